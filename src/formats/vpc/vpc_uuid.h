// The footer's UUID, made the way qemu makes it (qemu_uuid_generate: random
// bytes stamped as an RFC 4122 version-4 UUID), from host-supplied entropy.
#pragma once

#include <stdint.h>

namespace instar::formats::vpc {

// Bytes of CreateRequest::entropy the footer UUID is made from.
inline constexpr uint32_t kUuidEntropyOffset = 0;

// `random` and `out` are 16 bytes; they may alias.
void make_uuid_v4(const uint8_t* random, uint8_t* out);

}  // namespace instar::formats::vpc
