#include "vpc_uuid.h"

namespace instar::formats::vpc {

void make_uuid_v4(const uint8_t* random, uint8_t* out) {
    for (int i = 0; i < 16; ++i) out[i] = random[i];
    out[6] = uint8_t((out[6] & 0x0F) | 0x40);  // version 4
    out[8] = uint8_t((out[8] & 0x3F) | 0x80);  // RFC 4122 variant
}

}  // namespace instar::formats::vpc
