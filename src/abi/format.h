// The image formats instar reads and writes, and qemu's driver names for
// them: what -f, -F and -O take, what a qcow2 backing-format extension
// holds, what `info` calls a format. One enum and one table, for the host,
// the guest and the format code.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::abi {

// `none`: no format (a backing file without -F, a detection that found
// nothing); never the format of an image that exists.
enum class Format : uint32_t { none = 0, raw = 1, qcow2 = 2, vmdk = 3, vpc = 4, vhdx = 5 };

// Indexed by Format; none has no name.
inline constexpr const char* kFormatNames[] = {nullptr, "raw", "qcow2", "vmdk", "vpc", "vhdx"};
inline constexpr uint32_t kFormatCount = sizeof kFormatNames / sizeof kFormatNames[0];
static_assert(kFormatCount == uint32_t(Format::vhdx) + 1);

// nullptr for none and for a value that is no format (a guest's or a
// fuzzer's number).
constexpr const char* format_name(Format f) {
    const uint32_t i = uint32_t(f);
    return i < kFormatCount ? kFormatNames[i] : nullptr;
}

// The format called name[0, length); none when no format is.
constexpr Format format_from_name(const char* name, size_t length) {
    for (uint32_t i = 1; i < kFormatCount; ++i) {
        const char* n = kFormatNames[i];
        size_t k = 0;
        while (k < length && n[k] != '\0' && n[k] == name[k]) ++k;
        if (k == length && n[k] == '\0') return Format(i);
    }
    return Format::none;
}

static_assert(format_from_name("vhdx", 4) == Format::vhdx);
static_assert(format_from_name("vhd", 3) == Format::none);
static_assert(format_from_name("qcow2x", 6) == Format::none);
static_assert(format_name(Format::raw)[0] == 'r' && format_name(Format(6)) == nullptr);

}  // namespace instar::abi
