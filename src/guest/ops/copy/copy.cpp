// `instar copy`: input device 0 to the output device, byte for byte.
// Reads a batch, then writes back only the output blocks that hold
// non-zero bytes: the output starts empty, so skipped blocks stay holes.
#include "abi/ops/copy.h"
#include "abi/virtio.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/log.h"
#include "guest/op.h"
#include "guest/virtio_blk.h"

namespace instar::guest {
namespace {
namespace v = abi::virtio;

constexpr uint32_t kChunkBytes = 1u << 20;
constexpr uint32_t kChunksPerBatch = 16;

bool block_is_zero(const uint8_t* p, uint32_t len) {
    const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
    for (uint32_t i = 0; i < len / 8; ++i)
        if (w[i]) return false;
    return true;
}

uint64_t round_up(uint64_t v, uint64_t unit) { return (v + unit - 1) / unit * unit; }

void copy_main(const abi::BootConfig& config) {
    if (config.input_count != 1 || !config.has_output) fail(abi::GuestError::bad_config, "copy needs one input and an output");
    const uint64_t size = config.devices[0].size_bytes;

    VirtioBlk in, out;
    if (!in.init(0) || !out.init(abi::kOutputDeviceIndex)) fail(abi::GuestError::device_missing);
    if (out.read_only()) fail(abi::GuestError::device_missing, "output device is read-only");
    if (in.capacity_bytes() < round_up(size, v::kSectorSize)) fail(abi::GuestError::bad_config, "input smaller than its size");

    const uint32_t block = out.block_size();
    if (block > kChunkBytes) fail(abi::GuestError::bad_config, "output block size too large");
    if (out.capacity_bytes() < round_up(size, block)) fail(abi::GuestError::output_too_small);

    uint32_t chunks = kChunksPerBatch;
    if (chunks > in.max_batch()) chunks = in.max_batch();
    if (chunks > out.max_batch()) chunks = out.max_batch();
    if (kChunkBytes > in.max_request_bytes() || kChunkBytes > out.max_request_bytes())
        fail(abi::GuestError::device_missing, "device request size too small");

    auto* buffer = static_cast<uint8_t*>(heap().alloc(uint64_t(kChunkBytes) * chunks, 4096, false));
    auto* reqs = static_cast<BlkRequest*>(heap().alloc(sizeof(BlkRequest) * chunks));
    if (!buffer || !reqs) fail(abi::GuestError::out_of_memory);

    uint64_t written = 0;
    for (uint64_t batch_start = 0; batch_start < size; batch_start += uint64_t(kChunkBytes) * chunks) {
        uint32_t n = 0;
        for (; n < chunks; ++n) {
            uint64_t off = batch_start + uint64_t(n) * kChunkBytes;
            if (off >= size) break;
            uint64_t left = size - off;
            uint32_t len = uint32_t(left < kChunkBytes ? round_up(left, v::kSectorSize) : kChunkBytes);
            reqs[n] = BlkRequest{v::kBlkTIn, off / v::kSectorSize, buffer + uint64_t(n) * kChunkBytes, len, 0};
        }
        if (!in.submit(reqs, n)) fail(abi::GuestError::read_failed);

        // Turn the batch into writes of the non-zero output blocks; runs of
        // adjacent non-zero blocks become one request.
        uint32_t w = 0;
        uint64_t batch_end = batch_start + uint64_t(n) * kChunkBytes;
        if (batch_end > size) batch_end = size;
        uint64_t batch_bytes = round_up(batch_end - batch_start, block);
        // Bytes past the end of the input inside the last block must be zero.
        memset(buffer + (batch_end - batch_start), 0, batch_bytes - (batch_end - batch_start));
        uint64_t run_start = 0;
        bool in_run = false;
        for (uint64_t pos = 0; pos <= batch_bytes; pos += block) {
            bool data = pos < batch_bytes && !block_is_zero(buffer + pos, block);
            // A run is cut at chunk boundaries so no request exceeds a chunk.
            bool boundary = pos % kChunkBytes == 0;
            if (in_run && (!data || boundary)) {
                reqs[w++] = BlkRequest{v::kBlkTOut, (batch_start + run_start) / v::kSectorSize, buffer + run_start,
                                       uint32_t(pos - run_start), 0};
                written += pos - run_start;
                in_run = false;
            }
            if (data && !in_run) {
                run_start = pos;
                in_run = true;
            }
            bool last = pos == batch_bytes;
            if (w == chunks || (last && w)) {
                if (!out.submit(reqs, w)) fail(abi::GuestError::write_failed);
                w = 0;
            }
        }
        send_progress(batch_end, size);
    }
    if (!out.transfer(v::kBlkTFlush, 0, nullptr, 0)) fail(abi::GuestError::write_failed, "flush failed");

    abi::CopyResult result{size, written, size};
    send_result(abi::OpId::copy, result);
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(1, instar::abi::OpId::copy, instar::guest::copy_main);
