// The random identity qemu-img gives a new VHDX, taken from the host's
// entropy instead: where each random field comes from in
// CreateRequest::entropy. The log GUID is not random: qemu leaves it zero
// (no log).
#pragma once

#include <stdint.h>

namespace instar::formats::vhdx {

inline constexpr uint32_t kFileWriteGuidEntropy = 0;   // bytes 0..15
inline constexpr uint32_t kDataWriteGuidEntropy = 16;  // bytes 16..31
inline constexpr uint32_t kPage83Entropy = 32;         // bytes 32..47: virtual disk id
inline constexpr uint32_t kSequenceEntropy = 48;       // bytes 48..51, little-endian


// qemu draws a 32-bit random sequence number for header 1; header 2 gets
// the next one and so becomes the current header.
uint64_t first_sequence_number(const uint8_t* entropy);

}  // namespace instar::formats::vhdx
