// The zstd codecs of qcow2's compressed clusters (compression_type 1), with
// qemu 7.2's calls and acceptance rules (qcow2_zstd_compress,
// qcow2_zstd_decompress). Each keeps one zstd context for its life, in a
// workspace of its own (a "static" context: zstd never allocates), and
// resets its session per cluster, which leaves it as qemu's fresh one.
//
// The static-context calls, ZSTD_d_stableOutBuffer and the size estimates
// are zstd's "experimental" API, which may change between versions; the
// one version linked (Debian's libzstd.a, ARCHITECTURE.md) fixes them.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "formats/common/compression_codecs.h"

namespace instar::formats {
namespace {

// qcow2_zstd_decompress: ZSTD_decompressStream, called while the output is
// not full, failing on an error or a call that moves neither input nor
// output, and in the end unless the last call finished a frame (returned
// 0): frames (skippable ones too) that together make exactly the cluster,
// the last ending where the output does.
//
// Two differences in how it is done, not in what is accepted:
//  - The output is "stable" (ZSTD_d_stableOutBuffer): zstd decodes into
//    the cluster itself rather than through a window buffer of its own (up
//    to 128 MiB, the window a frame may ask for), so the memory is the
//    context and one block of input, whatever the frame says. qemu's
//    window buffer cannot overflow into output without failing either: a
//    frame that does not fit fails both ways (here at once). The one thing
//    that could come out different is a frame that refers back further
//    than its own window declares, which the format forbids and which
//    zstd 1.5.4 does not check: its bytes come from zstd's ring buffer in
//    qemu, from the real history here.
//  - The bytes come a piece at a time: each of qemu's calls, which has all
//    of them, is here as many calls as it takes for zstd to stop short of
//    a piece's end (a frame ended, or an error). zstd decodes the same
//    whatever the pieces.
//
// A static context refuses the legacy formats (v0.5-v0.7, whose decoders
// allocate on their own) with memory_allocation before anything is
// allocated; the workspace always has room for the one block of input, so
// that error means a legacy frame.
class ZstdClusterDecompressor final : public ClusterDecompressor {
public:
    Status init(Arena& arena) {
        // The context, then the input buffer of a frame's largest block
        // (ZSTD_decompressStream sizes it MIN(window, ZSTD_BLOCKSIZE_MAX)).
        const size_t bytes = ZSTD_estimateDCtxSize() + ZSTD_BLOCKSIZE_MAX;
        void* workspace = arena.alloc(bytes, 64, false);
        if (!workspace) return Status::out_of_memory;
        dctx_ = ZSTD_initStaticDCtx(workspace, bytes);
        if (!dctx_ || ZSTD_isError(ZSTD_DCtx_setParameter(dctx_, ZSTD_d_stableOutBuffer, 1))) return Status::internal;
        return kOk;
    }

    Status decompress(CompressedInput& in, uint8_t* out, size_t out_len) override {
        if (ZSTD_isError(ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only))) return Status::internal;
        ZSTD_outBuffer output{out, out_len, 0};
        ZSTD_inBuffer input{nullptr, 0, 0};
        uint64_t earlier = 0;  // bytes of the pieces before `input`
        bool more = true;      // `in` may have more pieces
        size_t ret = 0;
        while (output.pos < output.size) {
            const uint64_t in_before = earlier + input.pos;
            const size_t out_before = output.pos;
            // One of qemu's calls.
            for (;;) {
                if (input.pos == input.size) {
                    if (!more) break;
                    const uint8_t* data = nullptr;
                    size_t len = 0;
                    const Status st = in.next(data, len);
                    if (st != kOk) return st;
                    if (len == 0) {
                        more = false;
                        break;
                    }
                    earlier += input.size;
                    input = ZSTD_inBuffer{data, len, 0};
                }
                ret = ZSTD_decompressStream(dctx_, &output, &input);
                if (ZSTD_isError(ret)) {
                    return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? Status::unsupported_feature
                                                                                   : Status::image_invalid;
                }
                if (ret == 0 || input.pos < input.size) break;
            }
            if (earlier + input.pos == in_before && output.pos == out_before) return Status::image_invalid;
        }
        return ret == 0 ? kOk : Status::image_invalid;
    }

private:
    ZSTD_DCtx* dctx_ = nullptr;
};

// qcow2_zstd_compress: a fresh context (level ZSTD_CLEVEL_DEFAULT, every
// parameter zstd's default), one ZSTD_compressStream2(ZSTD_e_end). A
// result of 0 is done; anything else is -ENOMEM when it exceeds the room
// left (every error code does) and -EIO otherwise.
class ZstdClusterCompressor final : public ClusterCompressor {
public:
    Status init(Arena& arena, size_t cluster_bytes) {
        // What compressing one cluster in streaming mode needs: the
        // parameters zstd picks for a source of that size (it is told the
        // size: ZSTD_e_end on the first call), with its input and output
        // buffers. A smaller source gets smaller parameters.
        const ZSTD_compressionParameters params = ZSTD_getCParams(ZSTD_CLEVEL_DEFAULT, cluster_bytes, 0);
        const size_t bytes = ZSTD_estimateCStreamSize_usingCParams(params);
        if (ZSTD_isError(bytes)) return Status::internal;
        void* workspace = arena.alloc(bytes, 64, false);
        if (!workspace) return Status::out_of_memory;
        cctx_ = ZSTD_initStaticCCtx(workspace, bytes);
        cluster_bytes_ = cluster_bytes;
        // Unlike ZSTD_createCCtx, ZSTD_initStaticCCtx leaves the parameters
        // zeroed, not at their defaults: among them the frame content size
        // flag, without which every frame comes out a byte shorter than
        // qemu's.
        if (!cctx_ || ZSTD_isError(ZSTD_CCtx_reset(cctx_, ZSTD_reset_parameters))) return Status::internal;
        return kOk;
    }

    Status compress(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_cap, Compressed& result) override {
        result = {false, 0};
        if (in_len > cluster_bytes_ || ZSTD_isError(ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_only)))
            return Status::internal;
        ZSTD_outBuffer output{out, out_cap, 0};
        ZSTD_inBuffer input{in, in_len, 0};
        const size_t ret = ZSTD_compressStream2(cctx_, &output, &input, ZSTD_e_end);
        if (ret == 0) {
            result = {true, output.pos};
            return kOk;
        }
        // qemu's malloc cannot fail this way; here it would mean the
        // workspace was sized wrong, which must not pass as "does not fit".
        if (ZSTD_isError(ret) && ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation) return Status::internal;
        return ret > output.size - output.pos ? kOk : Status::internal;
    }

private:
    ZSTD_CCtx* cctx_ = nullptr;
    size_t cluster_bytes_ = 0;
};

}  // namespace

Status make_zstd_cluster_decompressor(Arena& arena, ClusterDecompressor*& out) {
    return make_codec<ZstdClusterDecompressor>(arena, out);
}

Status make_zstd_cluster_compressor(Arena& arena, size_t cluster_bytes, ClusterCompressor*& out) {
    return make_codec<ZstdClusterCompressor>(arena, out, cluster_bytes);
}

}  // namespace instar::formats
