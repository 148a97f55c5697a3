// Device setup shared by fuzz_virtqueue and fuzz_virtio_mmio: DMA ranges,
// poisoning, the backend, and the checks on what the device did.
#pragma once

#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "abi/virtio.h"
#include "fuzz_host.h"
#include "fuzz_target.h"
#include "host/block_backend.h"
#include "host/guest_memory.h"
#include "host/virtqueue.h"
#include "host_inputs.h"

namespace instar::fuzz {

inline std::vector<GuestRange> dma_ranges_of(const VirtqueueHeader& h) {
    std::vector<GuestRange> ranges;
    for (int i = 0; i < 3; ++i) {
        if (h.dma_end[i] == 0) continue;
        uint64_t a = h.dma_start[i] % (kFuzzRam + kPage), b = h.dma_end[i] % (kFuzzRam + kPage);
        if (a > b) std::swap(a, b);
        ranges.push_back({a, b});
    }
    if (ranges.empty()) ranges.push_back({kFuzzDmaStart, kFuzzDmaEnd});
    return ranges;
}

// Everything in RAM outside the DMA ranges becomes unaddressable: the
// device side may touch only DMA-able memory.
inline void poison_outside(GuestMemory& m, std::vector<GuestRange> ranges) {
    std::sort(ranges.begin(), ranges.end(), [](const GuestRange& x, const GuestRange& y) { return x.start < y.start; });
    uint64_t at = 0;
    for (const GuestRange& r : ranges) {
        if (r.start > at) poison_ram(m, at, r.start);
        at = std::max(at, r.end);
    }
    poison_ram(m, at, m.size());
}

inline bool inside_dma(const GuestMemory& m, const std::vector<GuestRange>& ranges, const void* p, uint64_t len) {
    const auto* b = static_cast<const uint8_t*>(p);
    if (b < m.base() || b > m.base() + m.size() || len > uint64_t(m.base() + m.size() - b)) return false;
    const uint64_t gpa = uint64_t(b - m.base());
    for (const GuestRange& r : ranges)
        if (gpa >= r.start && gpa + len <= r.end) return true;
    return false;
}

// Every buffer of a popped chain lies in RAM and inside one DMA range.
inline void check_chain(const GuestMemory& m, const std::vector<GuestRange>& ranges, const DescriptorChain& c) {
    if (c.readable_count > kMaxChainLength || c.writable_count > kMaxChainLength ||
        c.readable_count + c.writable_count > kMaxChainLength)
        invariant_failed("chain longer than kMaxChainLength");
    for (uint32_t i = 0; i < c.readable_count; ++i)
        if (!inside_dma(m, ranges, c.readable[i].iov_base, c.readable[i].iov_len))
            invariant_failed("readable buffer outside DMA-able guest memory");
    for (uint32_t i = 0; i < c.writable_count; ++i)
        if (!inside_dma(m, ranges, c.writable[i].iov_base, c.writable[i].iov_len))
            invariant_failed("writable buffer outside DMA-able guest memory");
}

inline uint64_t writable_bytes(const DescriptorChain& c) {
    uint64_t t = 0;
    for (uint32_t i = 0; i < c.writable_count; ++i) t += c.writable[i].iov_len;
    return t;
}

inline BlockBackend backend_of(const VirtqueueHeader& h, MemFile& file) {
    const uint64_t size = h.file_size % (kFuzzMaxFile + 1);
    file.reset(size);
    BlockBackend b;
    b.fd = file.fd();
    b.size_bytes = size;
    b.read_only = h.flags & kVqReadOnly;
    // As guest_run.cpp: an input's capacity is its size in whole sectors;
    // the output's is what the host allows it to grow to.
    b.capacity_sectors = b.read_only ? (size + abi::virtio::kSectorSize - 1) / abi::virtio::kSectorSize
                                     : h.capacity % (kFuzzMaxCapacity + 1);
    b.block_size = uint32_t(512u << (h.block_shift % 8));
    b.detect_zeroes = h.flags & kVqDetectZeroes;
    set_allocate_by_writing(b, (h.flags & kVqAllocateByWriting) != 0);
    return b;
}

// After a run: the file never grew past what the device may write, and an
// input was never written at all.
inline void check_file(const BlockBackend& b, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) invariant_failed("fstat on the disk file failed");
    const uint64_t limit = std::max<uint64_t>(b.size_bytes, b.capacity_sectors * abi::virtio::kSectorSize);
    if (uint64_t(st.st_size) > limit) invariant_failed("disk file grew past the device's capacity");
    if (b.read_only && uint64_t(st.st_size) != b.size_bytes) invariant_failed("read-only disk changed size");
}

}  // namespace instar::fuzz
