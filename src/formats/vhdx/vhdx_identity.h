// The random identity qemu-img gives a new VHDX, taken from the host's
// entropy instead: where each random field comes from in
// CreateRequest::entropy. create leaves the log GUID zero (no log).
#pragma once

#include <stdint.h>

namespace instar::formats::vhdx {

inline constexpr uint32_t kFileWriteGuidEntropy = 0;   // bytes 0..15
inline constexpr uint32_t kDataWriteGuidEntropy = 16;  // bytes 16..31
inline constexpr uint32_t kPage83Entropy = 32;         // bytes 32..47: virtual disk id
inline constexpr uint32_t kSequenceEntropy = 48;       // bytes 48..51, little-endian
// convert then opens the new image and writes through qemu's driver, which
// draws more GUIDs: the session's file write GUID, a data write GUID for
// each header, and a new log GUID for every log entry (one per payload
// block allocated, so any number of them). They come, in that order, from
// a stream seeded with bytes 52..63.
inline constexpr uint32_t kSessionEntropy = 52;
inline constexpr uint32_t kSessionEntropyBytes = 12;


// qemu draws a 32-bit random sequence number for header 1; header 2 gets
// the next one and so becomes the current header.
uint64_t first_sequence_number(const uint8_t* entropy);

// The GUIDs a writing session draws, one after another: version-4 UUIDs
// (as qemu's are) made from a splitmix64 stream over the session entropy.
class SessionGuids {
public:
    SessionGuids() = default;
    explicit SessionGuids(const uint8_t* entropy);
    void next(uint8_t* out /* 16 bytes */);

private:
    uint64_t state_ = 0;
};

}  // namespace instar::formats::vhdx
