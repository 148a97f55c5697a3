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
    BlockKind kind;  // data or zero; unallocated only when no layer has the run
    // The layer that answered (0: the top); `count` when no layer has it,
    // or the run lies past the end of the layer below that has nothing.
    size_t depth;
};

// `layers[0]` is the image, `layers[i + 1]` the backing file of
// `layers[i]`; offset < layers[0]->virtual_size(). A run past the end of a
// shorter backing file reads as zeroes (kind zero, at the depth of that
// file).
Status chain_block_status(BlockReader* const* layers, size_t count, uint64_t offset, uint64_t max_bytes,
                          ChainStatus& out);

}  // namespace instar::formats
