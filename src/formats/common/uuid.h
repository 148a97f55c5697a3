// qemu's UUIDs and GUIDs (qemu_uuid_generate) are random bytes stamped as
// RFC 4122 version-4 UUIDs; instar takes the random bytes from the host's
// entropy in the request.
#pragma once

#include <stdint.h>

namespace instar::formats {

// `random` and `out` are 16 bytes; they may alias.
inline void make_uuid_v4(const uint8_t* random, uint8_t* out) {
    for (int i = 0; i < 16; ++i) out[i] = random[i];
    out[6] = uint8_t((out[6] & 0x0F) | 0x40);  // version 4
    out[8] = uint8_t((out[8] & 0x3F) | 0x80);  // RFC 4122 variant
}

}  // namespace instar::formats
