#include "formats/block/chain_status.h"

namespace instar::formats {

Status chain_block_status(BlockReader* const* layers, size_t count, uint64_t offset, uint64_t max_bytes,
                          ChainStatus& out) {
    if (count == 0 || max_bytes == 0 || offset >= layers[0]->virtual_size()) return Status::internal;
    uint64_t bytes = max_bytes;
    for (size_t i = 0; i < count; ++i) {
        const uint64_t size = layers[i]->virtual_size();
        if (offset >= size) {
            // Past this backing file's end (never the top's): zeroes, and
            // nothing below is asked.
            out = ChainStatus{bytes, BlockKind::unallocated, i - 1};
            return kOk;
        }
        if (bytes > size - offset) bytes = size - offset;
        BlockStatus st{};
        Status s = layers[i]->block_status(offset, bytes, st);
        if (s != kOk) return s;
        if (st.bytes == 0 || st.bytes > bytes) return Status::internal;
        bytes = st.bytes;
        if (st.kind != BlockKind::unallocated) {
            out = ChainStatus{bytes, st.kind, i};
            return kOk;
        }
    }
    out = ChainStatus{bytes, BlockKind::unallocated, count - 1};
    return kOk;
}

}  // namespace instar::formats
