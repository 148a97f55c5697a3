// The VHD checksum: one's complement of the byte sum of a structure, taken
// with its checksum field zeroed.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::vpc {

// Sum over `len` bytes, treating the 4 bytes at `checksum_at` as zero.
uint32_t vhd_checksum(const uint8_t* data, size_t len, size_t checksum_at);

}  // namespace instar::formats::vpc
