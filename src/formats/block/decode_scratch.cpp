#include "formats/block/decode_scratch.h"

namespace instar::formats {

Status DecodeScratch::init_buffers(Arena& arena, size_t max_bytes) {
    max_bytes_ = max_bytes;
    // Not cleared: written before they are read (and in the guest, pages
    // never used cost nothing).
    input_ = static_cast<uint8_t*>(arena.alloc(max_bytes, 64, false));
    output_ = static_cast<uint8_t*>(arena.alloc(max_bytes, 64, false));
    return input_ && output_ ? kOk : Status::out_of_memory;
}

Status DecodeScratch::init(Arena& arena, size_t max_bytes) {
    Status st = make_cluster_decompressor(ClusterCompression::zlib, arena, zlib_);
    if (st == kOk) st = make_cluster_decompressor(ClusterCompression::zstd, arena, zstd_);
    return st == kOk ? init_buffers(arena, max_bytes) : st;
}

Status DecodeScratch::init(Arena& arena, size_t max_bytes, ClusterCompression only) {
    const Status st =
        make_cluster_decompressor(only, arena, only == ClusterCompression::zlib ? zlib_ : zstd_);
    return st == kOk ? init_buffers(arena, max_bytes) : st;
}

}  // namespace instar::formats
