#include "formats/vhdx/vhdx_identity.h"

#include "abi/ops/create.h"
#include "formats/common/endian.h"
#include "formats/common/uuid.h"

namespace instar::formats::vhdx {

uint64_t first_sequence_number(const uint8_t* entropy) {
    return load_le32(entropy + kSequenceEntropy);
}

SessionGuids::SessionGuids(const uint8_t* entropy) {
    static_assert(kSessionEntropy + kSessionEntropyBytes <= abi::kEntropyBytes);
    const uint8_t* e = entropy + kSessionEntropy;
    state_ = load_le64(e) ^ (uint64_t(load_le32(e + 8)) << 32 | load_le32(e + 8));
}

void SessionGuids::next(uint8_t* out) {
    uint8_t random[16];
    for (int half = 0; half < 2; ++half) {
        // splitmix64: every seed gives a long stream of distinct outputs.
        state_ += 0x9E3779B97F4A7C15ull;
        uint64_t z = state_;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        store_le64(random + 8 * half, z ^ (z >> 31));
    }
    make_uuid_v4(random, out);
}

}  // namespace instar::formats::vhdx
