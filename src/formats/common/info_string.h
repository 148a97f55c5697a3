// Filling the bounded strings of an `info` answer (abi::InfoString).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ops/info.h"

namespace instar::formats {

// Copies `len` bytes into `s`; false (and `s` untouched) when they do not
// fit its capacity.
template <uint32_t N>
bool set_string(abi::InfoString<N>& s, const void* p, size_t len) {
    if (len > N) return false;
    __builtin_memcpy(s.bytes, p, len);
    s.length = uint32_t(len);
    return true;
}

}  // namespace instar::formats
