#include "formats/vhdx/vhdx_identity.h"

#include "formats/common/endian.h"

namespace instar::formats::vhdx {

uint64_t first_sequence_number(const uint8_t* entropy) {
    return load_le32(entropy + kSequenceEntropy);
}

}  // namespace instar::formats::vhdx
