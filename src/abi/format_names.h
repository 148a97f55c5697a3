// qemu's driver names of the formats instar reads: what -f and -F take,
// what a qcow2 backing-format extension holds, what `info` calls a format.
// One table, for the host and the guest.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ops/create.h"

namespace instar::abi {

// Indexed by BackingFormat; none has no name.
inline constexpr const char* kBackingFormatNames[] = {nullptr, "raw", "qcow2", "vmdk", "vpc", "vhdx"};
static_assert(sizeof kBackingFormatNames / sizeof kBackingFormatNames[0] == uint32_t(BackingFormat::vhdx) + 1);

// nullptr for none and for a value that is no format (a guest's or a
// fuzzer's number).
constexpr const char* backing_format_name(BackingFormat f) {
    const uint32_t i = uint32_t(f);
    return i < sizeof kBackingFormatNames / sizeof kBackingFormatNames[0] ? kBackingFormatNames[i] : nullptr;
}

// The format called name[0, length); none when no format is.
constexpr BackingFormat backing_format_named(const char* name, size_t length) {
    for (uint32_t i = 1; i < sizeof kBackingFormatNames / sizeof kBackingFormatNames[0]; ++i) {
        const char* n = kBackingFormatNames[i];
        size_t k = 0;
        while (k < length && n[k] != '\0' && n[k] == name[k]) ++k;
        if (k == length && n[k] == '\0') return BackingFormat(i);
    }
    return BackingFormat::none;
}

static_assert(backing_format_named("vhdx", 4) == BackingFormat::vhdx);
static_assert(backing_format_named("vhd", 3) == BackingFormat::none);
static_assert(backing_format_named("qcow2x", 6) == BackingFormat::none);

}  // namespace instar::abi
