// `instar copy`: input device 0 to the output device, byte for byte, in
// batches of large requests: one VM exit reads a batch, one writes it back,
// and while the host writes one batch (on its I/O thread, for large copies)
// the guest reads the next into a second buffer.
// The output device leaves all-zero blocks as holes, so the copy is sparse
// without the guest looking at the data.
#include "abi/ops/copy.h"
#include "abi/virtio.h"
#include "formats/common/bits.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/op.h"
#include "guest/virtio_blk.h"

namespace instar::guest {
namespace {
using formats::round_up;
namespace v = abi::virtio;

constexpr uint32_t kChunkBytes = 1u << 20;
constexpr uint32_t kChunksPerBatch = 16;

void copy_main(const abi::BootConfig& config) {
    if (config.input_count != 1 || !config.has_output) fail(abi::GuestError::bad_config, "copy needs one input and an output");
    const uint64_t size = config.devices[0].size_bytes;

    VirtioBlk in, out;
    if (!in.init(0) || !out.init(abi::kOutputDeviceIndex)) fail(abi::GuestError::device_missing);
    if (out.read_only()) fail(abi::GuestError::device_missing, "output device is read-only");
    if (in.capacity_bytes() < round_up(size, v::kSectorSize)) fail(abi::GuestError::bad_config, "input smaller than its size");
    const uint32_t block = out.block_size();
    if (kChunkBytes % block) fail(abi::GuestError::bad_config, "output block size does not divide the chunk size");
    if (out.capacity_bytes() < round_up(size, block)) fail(abi::GuestError::output_too_small);
    if (kChunkBytes > in.max_request_bytes() || kChunkBytes > out.max_request_bytes())
        fail(abi::GuestError::device_missing, "device request size too small");

    uint32_t chunks = kChunksPerBatch;
    if (chunks > in.max_batch()) chunks = in.max_batch();
    if (chunks > out.max_batch()) chunks = out.max_batch();
    // Two buffers: while one batch is written (on the host's I/O thread),
    // the next is read into the other.
    const uint64_t batch_bytes = uint64_t(kChunkBytes) * chunks;
    uint8_t* buffers[2] = {static_cast<uint8_t*>(heap().alloc(batch_bytes, 4096, false)),
                           static_cast<uint8_t*>(heap().alloc(batch_bytes, 4096, false))};
    BlkRequest* reqs[2] = {static_cast<BlkRequest*>(heap().alloc(sizeof(BlkRequest) * chunks)),
                           static_cast<BlkRequest*>(heap().alloc(sizeof(BlkRequest) * chunks))};
    if (!buffers[0] || !buffers[1] || !reqs[0] || !reqs[1]) fail(abi::GuestError::out_of_memory);

    // Reads the batch at `start` into buffers[which]; returns its size in requests.
    auto read_batch = [&](uint64_t start, int which) {
        uint32_t n = 0;
        for (; n < chunks && start + uint64_t(n) * kChunkBytes < size; ++n) {
            uint64_t off = start + uint64_t(n) * kChunkBytes;
            uint64_t left = size - off;
            uint32_t len = uint32_t(left < kChunkBytes ? round_up(left, v::kSectorSize) : kChunkBytes);
            uint8_t* at = buffers[which] + uint64_t(n) * kChunkBytes;
            reqs[which][n] = BlkRequest{v::kBlkTIn, off / v::kSectorSize, at, len, 0};
        }
        if (!in.submit(reqs[which], n)) fail(abi::GuestError::read_failed);
        return n;
    };

    uint32_t n = size ? read_batch(0, 0) : 0;
    int cur = 0;
    for (uint64_t start = 0; start < size; start += batch_bytes, cur ^= 1) {
        // The input device zero-fills its last partial sector; the output
        // writes whole blocks, so pad the tail with zeroes up to one.
        for (uint32_t i = 0; i < n; ++i) {
            BlkRequest& r = reqs[cur][i];
            uint32_t whole = uint32_t(round_up(r.length, block));
            memset(buffers[cur] + uint64_t(i) * kChunkBytes + r.length, 0, whole - r.length);
            r.type = v::kBlkTOut;
            r.length = whole;
        }
        if (!out.start(reqs[cur], n)) fail(abi::GuestError::write_failed);
        uint32_t next = start + batch_bytes < size ? read_batch(start + batch_bytes, cur ^ 1) : 0;
        if (!out.finish()) fail(abi::GuestError::write_failed);
        n = next;
        uint64_t done = start + batch_bytes < size ? start + batch_bytes : size;
        send_progress(done, size);
    }
    // No flush: like `qemu-img convert`, whose default cache mode for the
    // target is "unsafe", the copy is left to the page cache.
    send_result(abi::OpId::copy, abi::CopyResult{size, size});
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(1, instar::abi::OpId::copy, instar::guest::copy_main);
