// The zlib codecs: qcow2's compressed clusters (raw deflate, a 4 KiB
// window) and vmdk's grains (zlib streams), with qemu 7.2's calls and
// acceptance rules. Each keeps one z_stream for its life and resets it per
// cluster: a reset leaves the stream as a fresh init does (deflateInit2
// itself ends in deflateReset), and the memory it already has is reused.
#include <limits.h>

#include "formats/common/compression_codecs.h"
#include "formats/common/zlib_memory.h"

namespace instar::formats {
namespace {

// qcow2-threads.c: "best compression, small window, no zlib header".
constexpr int kQcow2WindowBits = 12;
constexpr int kQcow2MemLevel = 9;
// zlib's defaults, which vmdk's compress() and uncompress() use.
constexpr int kZlibWindowBits = MAX_WBITS;
constexpr int kZlibMemLevel = 8;  // zutil.h DEF_MEM_LEVEL

// zlib counts in uInt; clusters and grains are far smaller.
bool fits_uint(size_t n) { return n <= UINT_MAX; }

// qcow2_zlib_decompress: inflateInit2(-12), one inflate(Z_FINISH) over the
// whole descriptor's bytes; accepted when it ended or ran out of room
// (Z_STREAM_END or Z_BUF_ERROR) with the output full. Here the bytes come a
// piece at a time, and inflate, which decodes the same whatever the
// pieces, is fed each next piece for as long as it uses up the last one:
// it stops where qemu's one call stops (stream end, error, or output full
// with input left), having seen the same bytes.
class ZlibClusterDecompressor final : public ClusterDecompressor {
public:
    Status init(Arena& arena) {
        if (!memory_.reserve(arena, ZlibMemory::inflate_bytes(kQcow2WindowBits))) return Status::out_of_memory;
        memory_.attach(strm_);
        return inflateInit2(&strm_, -kQcow2WindowBits) == Z_OK ? kOk : Status::internal;
    }

    Status decompress(CompressedInput& in, uint8_t* out, size_t out_len) override {
        if (!fits_uint(out_len) || inflateReset(&strm_) != Z_OK) return Status::internal;
        strm_.next_out = out;
        strm_.avail_out = uInt(out_len);
        for (;;) {
            const uint8_t* data = nullptr;
            size_t len = 0;
            const Status st = in.next(data, len);
            if (st != kOk) return st;
            if (len == 0) break;
            if (!fits_uint(len)) return Status::internal;
            strm_.next_in = data;
            strm_.avail_in = uInt(len);
            const int ret = inflate(&strm_, Z_NO_FLUSH);
            if (ret == Z_STREAM_END) break;
            if (ret == Z_DATA_ERROR) return Status::image_invalid;
            // Z_MEM_ERROR: the memory set aside was too small, a bug here.
            if (ret != Z_OK && ret != Z_BUF_ERROR) return Status::internal;
            if (strm_.avail_in != 0) break;  // the output is full, and the rest waits for room
        }
        return strm_.avail_out == 0 ? kOk : Status::image_invalid;
    }

private:
    z_stream strm_{};
    ZlibMemory memory_;
};

// qcow2_zlib_compress: deflateInit2(Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12,
// 9, Z_DEFAULT_STRATEGY), then one deflate(Z_FINISH): Z_STREAM_END is the
// compressed size, Z_OK (out of room) -ENOMEM, anything else -EIO.
class ZlibClusterCompressor final : public ClusterCompressor {
public:
    Status init(Arena& arena) {
        if (!memory_.reserve(arena, ZlibMemory::deflate_bytes(kQcow2WindowBits, kQcow2MemLevel)))
            return Status::out_of_memory;
        memory_.attach(strm_);
        return deflateInit2(&strm_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -kQcow2WindowBits, kQcow2MemLevel,
                            Z_DEFAULT_STRATEGY) == Z_OK
                   ? kOk
                   : Status::internal;
    }

    Status compress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, Compressed& result) override {
        result = {false, 0};
        if (!fits_uint(in_len) || !fits_uint(out_cap) || deflateReset(&strm_) != Z_OK) return Status::internal;
        strm_.next_in = in;
        strm_.avail_in = uInt(in_len);
        strm_.next_out = out;
        strm_.avail_out = uInt(out_cap);
        const int ret = deflate(&strm_, Z_FINISH);
        if (ret == Z_STREAM_END) {
            result = {true, out_cap - strm_.avail_out};
            return kOk;
        }
        return ret == Z_OK ? kOk : Status::internal;
    }

private:
    z_stream strm_{};
    ZlibMemory memory_;
};

// vmdk_read_extent's uncompress(), zlib 1.2.13's uncompress2 on buffers
// under 4 GiB: inflateInit, then inflate(Z_NO_FLUSH) for as long as it
// answers Z_OK; only Z_STREAM_END is Z_OK (and qemu reads the grain).
class ZlibGrainDecompressor final : public GrainDecompressor {
public:
    Status init(Arena& arena) {
        if (!memory_.reserve(arena, ZlibMemory::inflate_bytes(kZlibWindowBits))) return Status::out_of_memory;
        memory_.attach(strm_);
        return inflateInit(&strm_) == Z_OK ? kOk : Status::internal;
    }

    Status decompress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, size_t& made) override {
        made = 0;
        // uncompress() with no room decodes into a byte of its own; vmdk
        // always has a grain's worth.
        if (out_cap == 0 || !fits_uint(in_len) || !fits_uint(out_cap) || inflateReset(&strm_) != Z_OK)
            return Status::internal;
        strm_.next_in = in;
        strm_.avail_in = uInt(in_len);
        strm_.next_out = out;
        strm_.avail_out = uInt(out_cap);
        int ret;
        do {
            ret = inflate(&strm_, Z_NO_FLUSH);
        } while (ret == Z_OK);
        if (ret == Z_MEM_ERROR) return Status::internal;
        if (ret != Z_STREAM_END) return Status::image_invalid;
        made = strm_.total_out;
        return kOk;
    }

private:
    z_stream strm_{};
    ZlibMemory memory_;
};

// vmdk_write_extent's compress(): compress2 at Z_DEFAULT_COMPRESSION, on
// buffers under 4 GiB one deflate(Z_FINISH); Z_STREAM_END is Z_OK, anything
// else (Z_OK: out of room, which compress2 turns into Z_BUF_ERROR) fails
// the write.
class ZlibGrainCompressor final : public GrainCompressor {
public:
    Status init(Arena& arena) {
        if (!memory_.reserve(arena, ZlibMemory::deflate_bytes(kZlibWindowBits, kZlibMemLevel)))
            return Status::out_of_memory;
        memory_.attach(strm_);
        return deflateInit(&strm_, Z_DEFAULT_COMPRESSION) == Z_OK ? kOk : Status::internal;
    }

    Status compress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, Compressed& result) override {
        result = {false, 0};
        if (!fits_uint(in_len) || !fits_uint(out_cap) || deflateReset(&strm_) != Z_OK) return Status::internal;
        strm_.next_in = in;
        strm_.avail_in = uInt(in_len);
        strm_.next_out = out;
        strm_.avail_out = uInt(out_cap);
        const int ret = deflate(&strm_, Z_FINISH);
        if (ret == Z_STREAM_END) {
            result = {true, size_t(strm_.total_out)};
            return kOk;
        }
        return ret == Z_OK || ret == Z_BUF_ERROR ? kOk : Status::internal;
    }

private:
    z_stream strm_{};
    ZlibMemory memory_;
};

}  // namespace

Status make_zlib_cluster_decompressor(Arena& arena, ClusterDecompressor*& out) {
    return make_codec<ZlibClusterDecompressor>(arena, out);
}

Status make_zlib_cluster_compressor(Arena& arena, ClusterCompressor*& out) {
    return make_codec<ZlibClusterCompressor>(arena, out);
}

Status make_grain_decompressor(Arena& arena, GrainDecompressor*& out) {
    return make_codec<ZlibGrainDecompressor>(arena, out);
}

Status make_grain_compressor(Arena& arena, GrainCompressor*& out) {
    return make_codec<ZlibGrainCompressor>(arena, out);
}

}  // namespace instar::formats
