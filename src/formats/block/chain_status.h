// Block status through a backing chain, as qemu's block_status_above sees
// it: what the guest reads at an offset, and from which layer. The readers
// answer for their own layer only (BlockReader); this walks down while a
// layer has nothing, so convert, map and compare ask one question.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/block/block_reader.h"
#include "formats/common/status.h"

namespace instar::formats {

struct ChainStatus {
    uint64_t bytes;  // length of the run from the offset asked about
    // data or zero from the layer that has the run; unallocated when none
    // has it (it reads as zeroes): every layer left it to the one below,
    // or it lies past the end of a shorter backing file.
    BlockKind kind;
    // The deepest layer looked at (0: the top), as `qemu-img map` shows
    // it: the one that answered, or for an unallocated run the last layer
    // that had the offset inside its disk.
    size_t depth;
};

// `layers[0]` is the image, `layers[i + 1]` the backing file of
// `layers[i]`; offset < layers[0]->virtual_size().
Status chain_block_status(BlockReader* const* layers, size_t count, uint64_t offset, uint64_t max_bytes,
                          ChainStatus& out);

}  // namespace instar::formats
