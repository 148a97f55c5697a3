// Strings of qcow2 metadata as qemu holds them: C strings, so they end at
// the first NUL byte.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ops/info.h"
#include "formats/common/info_string.h"

namespace instar::formats::qcow2 {

inline size_t until_nul(const uint8_t* p, size_t len) {
    size_t n = 0;
    while (n < len && p[n] != 0) ++n;
    return n;
}

using formats::set_string;

}  // namespace instar::formats::qcow2
