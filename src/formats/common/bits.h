// Small integer helpers, written once for the format code (freestanding)
// and the host's checks of what it reports.
#pragma once

#include <stdint.h>

namespace instar::formats {

constexpr bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// a / b rounded up; b > 0. Written so that a near 2^64 does not overflow.
constexpr uint64_t div_round_up(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// a rounded up to a multiple of b; b > 0, and the result must fit.
constexpr uint64_t round_up(uint64_t a, uint64_t b) { return div_round_up(a, b) * b; }

static_assert(is_power_of_two(1) && is_power_of_two(1ull << 63) && !is_power_of_two(0) && !is_power_of_two(12));
static_assert(div_round_up(~0ull, 2) == (1ull << 63) && round_up(513, 512) == 1024 && round_up(0, 512) == 0);

}  // namespace instar::formats
