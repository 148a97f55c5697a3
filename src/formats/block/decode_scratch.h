// Where block readers decode compressed data: the decoders, and one unit
// (a qcow2 cluster) of compressed input and of decoded output.
//
// A reader given none takes its own when it opens. A run that opens many
// images (convert: every layer of every source at once) gives them one to
// share, so decoding costs one unit's worth of memory per run rather than
// per image: a reader decodes one unit at a time and is done with the
// buffers before it reads anything else (a read that falls through to a
// backing file does so between units, never inside one). The output is
// tagged with who decoded what into it, so a reader reading a unit in parts
// decodes it once, unless another reader used the scratch in between.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/compression.h"
#include "formats/common/status.h"

namespace instar::formats {

// The largest unit any reader decodes: qcow2's largest cluster.
inline constexpr size_t kMaxDecodeUnitBytes = size_t(2) << 20;

class DecodeScratch {
public:
    // Units of up to max_bytes, with a decoder for each qcow2 compression
    // type (a shared scratch), or for `only` (a reader's own). Everything is
    // taken from `arena` now; out_of_memory when it does not fit.
    Status init(Arena& arena, size_t max_bytes);
    Status init(Arena& arena, size_t max_bytes, ClusterCompression only);

    size_t max_bytes() const { return max_bytes_; }
    // nullptr when this scratch has no decoder for `type`.
    ClusterDecompressor* decoder(ClusterCompression type) const {
        return type == ClusterCompression::zlib ? zlib_ : zstd_;
    }
    // max_bytes() each. input() is free for any decoder to use;
    // decode_into() gives the output to decode into, dropping what it held.
    uint8_t* input() { return input_; }
    uint8_t* decode_into() {
        held_ = false;
        return output_;
    }
    const uint8_t* output() const { return output_; }

    // A name for a reader that decodes here, never given out before (a
    // reader's address could be another's later).
    uint64_t join() { return ++users_; }
    // Whether the output holds what `user` decoded from the unit it calls
    // `key` (say, a descriptor's offset and length), untouched since.
    bool holds(uint64_t user, uint64_t key_a, uint64_t key_b) const {
        return held_ && user_ == user && key_a_ == key_a && key_b_ == key_b;
    }
    // Declares it so, after a decode into decode_into() succeeded.
    void hold(uint64_t user, uint64_t key_a, uint64_t key_b) {
        held_ = true;
        user_ = user;
        key_a_ = key_a;
        key_b_ = key_b;
    }

private:
    Status init_buffers(Arena& arena, size_t max_bytes);

    ClusterDecompressor* zlib_ = nullptr;
    ClusterDecompressor* zstd_ = nullptr;
    uint8_t* input_ = nullptr;
    uint8_t* output_ = nullptr;
    size_t max_bytes_ = 0;
    uint64_t users_ = 0;
    bool held_ = false;
    uint64_t user_ = 0;
    uint64_t key_a_ = 0;
    uint64_t key_b_ = 0;
};

}  // namespace instar::formats
