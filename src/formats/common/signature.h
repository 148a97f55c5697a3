// Whether a file starts with a format's signature: the test every probe
// makes first.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats {

// True when `head` (the file's first `len` bytes; may be null) begins with
// all N bytes of `signature`.
template <size_t N>
constexpr bool starts_with_signature(const uint8_t* head, size_t len, const uint8_t (&signature)[N]) {
    if (head == nullptr || len < N) return false;
    for (size_t i = 0; i < N; ++i)
        if (head[i] != signature[i]) return false;
    return true;
}

}  // namespace instar::formats
