// Compressed data in images: qcow2's compressed clusters (zlib or zstd) and
// vmdk streamOptimized grains (zlib). Decoders accept exactly what qemu 7.2
// accepts (block/qcow2-threads.c, block/vmdk.c) and produce the same bytes;
// encoders produce qemu's bytes exactly (the same library, version,
// parameters and calls), so a compressed image instar writes is the one
// qemu-img writes, byte for byte.
//
// The work is done by Debian's zlib and zstd (ARCHITECTURE.md, "Third-party
// code in the guest"); the glue here only sets them up and applies qemu's
// rules. A codec takes all its memory from the Arena it is made in, when it
// is made, and never allocates again: its cost is known up front, and the
// libraries never reach an allocator of their own.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/status.h"

namespace instar::formats {

// A qcow2 image's compression_type (header byte 104; zlib without it).
enum class ClusterCompression : uint8_t { zlib = 0, zstd = 1 };

// The compressed bytes of one cluster, a piece at a time as the decoder asks
// for them, so one bounded buffer serves a stream of any length (a qcow2
// descriptor may name up to two clusters of bytes).
class CompressedInput {
public:
    // The next piece in [data, data + len); len 0 when the stream is used
    // up. A failure (the device's) ends the decoding with that status.
    virtual Status next(const uint8_t*& data, size_t& len) = 0;

protected:
    ~CompressedInput() = default;
};

// qcow2_co_decompress for one image: made once, reused for every cluster.
class ClusterDecompressor {
public:
    // Exactly out_len bytes into `out` from the stream `in`. As qemu: the
    // stream may end before `in` does (what follows is not looked at); a
    // stream that is damaged, or does not make exactly out_len bytes, is
    // image_invalid. A zstd frame of the pre-1.0 formats (v0.5-v0.7), which
    // qemu's libzstd still decodes, is unsupported_feature. Failures of
    // `in` come back as they are.
    virtual Status decompress(CompressedInput& in, uint8_t* out, size_t out_len) = 0;

protected:
    ~ClusterDecompressor() = default;
};

// What an encoder made. qemu stores the data uncompressed when it does not
// fit (the encoder's -ENOMEM).
struct Compressed {
    bool fits;
    size_t bytes;  // when it fits: the compressed length
};

// qcow2_co_compress for one image: made once, reused for every cluster.
class ClusterCompressor {
public:
    // Compresses in[0, in_len) (at most the cluster size the compressor was
    // made for) into out[0, out_cap); qemu offers cluster_size - 1 bytes,
    // so that only what saves space is stored compressed. internal where
    // qemu's encoder fails with -EIO.
    virtual Status compress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, Compressed& result) = 0;

protected:
    ~ClusterCompressor() = default;
};

// Made in `arena`; out_of_memory when they do not fit. The compressor is
// for clusters of cluster_bytes (a power of two, 512 B to 2 MiB); the
// decompressor's memory does not depend on the cluster size.
Status make_cluster_decompressor(ClusterCompression type, Arena& arena, ClusterDecompressor*& out);
Status make_cluster_compressor(ClusterCompression type, Arena& arena, size_t cluster_bytes, ClusterCompressor*& out);

// vmdk streamOptimized grains: zlib streams (with the zlib header and
// checksum), which vmdk.c reads with uncompress() and writes with
// compress(). Each made once per image, reused for every grain.
class GrainDecompressor {
public:
    // uncompress(): the stream in in[0, in_len) into out[0, out_cap),
    // `made` the bytes it holds (qemu then checks that the part it reads
    // lies inside). image_invalid unless the stream ends, its checksum
    // right, within both buffers (what follows it is not looked at).
    virtual Status decompress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, size_t& made) = 0;

protected:
    ~GrainDecompressor() = default;
};

class GrainCompressor {
public:
    // compress(): in[0, in_len) into out[0, out_cap) at zlib's default
    // level; qemu fails the write when it does not fit.
    virtual Status compress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, Compressed& result) = 0;

protected:
    ~GrainCompressor() = default;
};

Status make_grain_decompressor(Arena& arena, GrainDecompressor*& out);
Status make_grain_compressor(Arena& arena, GrainCompressor*& out);

}  // namespace instar::formats
