// The codecs behind make_cluster_decompressor and make_cluster_compressor,
// one set per library (zlib_codecs.cpp, zstd_codecs.cpp).
#pragma once

#include <stddef.h>

#include <new>

#include "formats/common/compression.h"

namespace instar::formats {

Status make_zlib_cluster_decompressor(Arena& arena, ClusterDecompressor*& out);
Status make_zlib_cluster_compressor(Arena& arena, ClusterCompressor*& out);
Status make_zstd_cluster_decompressor(Arena& arena, ClusterDecompressor*& out);
Status make_zstd_cluster_compressor(Arena& arena, size_t cluster_bytes, ClusterCompressor*& out);

// A codec object, built in `arena` and set up by its init(arena, args...).
template <typename Codec, typename Base, typename... Args>
Status make_codec(Arena& arena, Base*& out, Args... args) {
    out = nullptr;
    void* mem = arena.alloc(sizeof(Codec), alignof(Codec) < 16 ? 16 : alignof(Codec), false);
    if (!mem) return Status::out_of_memory;
    auto* codec = ::new (mem) Codec();
    const Status st = codec->init(arena, args...);
    if (st == kOk) out = codec;
    return st;
}

}  // namespace instar::formats
