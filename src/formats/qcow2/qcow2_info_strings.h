// Strings of qcow2 metadata as qemu holds them: C strings, so they end at
// the first NUL byte.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ops/info.h"

namespace instar::formats::qcow2 {

inline size_t until_nul(const uint8_t* p, size_t len) {
    size_t n = 0;
    while (n < len && p[n] != 0) ++n;
    return n;
}

// False (and `s` untouched) when len exceeds the capacity.
template <uint32_t N>
bool set_string(abi::InfoString<N>& s, const uint8_t* p, size_t len) {
    if (len > N) return false;
    __builtin_memcpy(s.bytes, p, len);
    s.length = uint32_t(len);
    return true;
}

}  // namespace instar::formats::qcow2
