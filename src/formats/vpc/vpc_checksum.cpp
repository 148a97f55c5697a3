#include "formats/vpc/vpc_checksum.h"

namespace instar::formats::vpc {

uint32_t vhd_checksum(const uint8_t* data, size_t len, size_t checksum_at) {
    uint32_t sum = 0;
    for (size_t i = 0; i < len; ++i) {
        if (i >= checksum_at && i < checksum_at + 4) continue;
        sum += data[i];
    }
    return ~sum;
}

}  // namespace instar::formats::vpc
