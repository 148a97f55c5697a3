// `copy`: input device 0 -> output device, byte for byte.
#pragma once

#include <stdint.h>

namespace instar::abi {

// No configuration beyond the device table: sizes come from DeviceInfo.

struct CopyResult {
    uint64_t bytes_copied;  // == input size
    uint64_t output_size;   // final byte length the host truncates the output to
};
static_assert(sizeof(CopyResult) == 16);

}  // namespace instar::abi
