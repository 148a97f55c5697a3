// qemu-img's number syntax, reproduced exactly: sizes (qemu_strtosz: decimal
// with optional fraction and a b/k/M/G/T/P/E suffix, or hex) and plain
// numbers (strtoull with base 0). Shared by the SIZE argument and -o values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace instar::cli {

enum class SizeParseStatus { ok, invalid, out_of_range };

struct SizeParse {
    SizeParseStatus status = SizeParseStatus::invalid;
    uint64_t value = 0;
    // A hex number met a suffix ("0x10k"): qemu 7.2 warns that this is
    // deprecated as soon as it sees the suffix, whatever follows.
    bool hex_with_suffix = false;
};

// qemu_strtosz with the whole string required to match.
SizeParse parse_qemu_size(std::string_view text);

// qemu-img create's SIZE argument (cvtnum "image size"): 0..INT64_MAX.
// Throws instar::Error with qemu-img's wording. Appends qemu's deprecation
// warning (without the "qemu-img: warning: " prefix) to `warnings`.
uint64_t parse_image_size_argument(std::string_view text, std::vector<std::string>& warnings);

// The deprecation warning text for a hex size with a suffix.
std::string hex_suffix_warning(std::string_view text);

// qemu_strtou64(text, NULL, 0): C's strtoull with base 0 (0x.. hex, 0..
// octal, leading blanks and a sign allowed, "-1" wraps), whole string.
SizeParse parse_qemu_number(std::string_view text);

}  // namespace instar::cli
