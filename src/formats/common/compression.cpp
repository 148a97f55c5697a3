#include "formats/common/compression.h"

#include "formats/common/compression_codecs.h"

namespace instar::formats {

Status make_cluster_decompressor(ClusterCompression type, Arena& arena, ClusterDecompressor*& out) {
    out = nullptr;
    switch (type) {
    case ClusterCompression::zlib:
        return make_zlib_cluster_decompressor(arena, out);
    case ClusterCompression::zstd:
        return make_zstd_cluster_decompressor(arena, out);
    }
    return Status::internal;
}

Status make_cluster_compressor(ClusterCompression type, Arena& arena, size_t cluster_bytes, ClusterCompressor*& out) {
    out = nullptr;
    // qcow2's cluster sizes (cluster_bits 9 to 21).
    if (cluster_bytes < 512 || cluster_bytes > (size_t(2) << 20) || (cluster_bytes & (cluster_bytes - 1)))
        return Status::internal;
    switch (type) {
    case ClusterCompression::zlib:
        return make_zlib_cluster_compressor(arena, out);
    case ClusterCompression::zstd:
        return make_zstd_cluster_compressor(arena, cluster_bytes, out);
    }
    return Status::internal;
}

}  // namespace instar::formats
