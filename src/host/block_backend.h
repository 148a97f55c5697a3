// What a virtio-blk request does to the file behind a device: reads and
// writes go straight between the file and guest memory with preadv/pwritev
// on the chain's buffers: no bounce buffer, no copy in between.
#pragma once

#include <cstdint>
#include <functional>

#include "host/virtqueue.h"
#include "host/write_throttle.h"

namespace instar {

struct BlockBackend {
    int fd = -1;
    uint64_t size_bytes = 0;        // exact length of an input file
    uint64_t capacity_sectors = 0;  // what the device advertises
    uint32_t block_size = 512;      // writes must be aligned to it
    bool read_only = true;
    // Output only: all-zero blocks are left as holes instead of written
    // (the output starts empty). data_end tracks how far data was written.
    bool detect_zeroes = false;
    uint64_t data_end = 0;
    // How WRITE_ZEROES without "unmap" makes zeroes real on disk: reserve
    // them (fallocate, preallocation=falloc) or write them (=full).
    bool allocate_by_writing = false;
    // Output only, -t none: the same file opened with O_DIRECT. Requests
    // whose offset, length and every buffer meet its alignment go through
    // it, bypassing the page cache as qemu's cache=none does; the others
    // through `fd` (the kernel keeps the two coherent), where qemu would
    // bounce them through an aligned buffer.
    int direct_fd = -1;
    uint32_t direct_offset_align = 0;  // file offsets and lengths
    uint32_t direct_memory_align = 0;  // buffer addresses and lengths
    // Output only, convert -r: writes (data and zeroes) held to a rate.
    WriteThrottle throttle{};
};

// The most bytes one request moves (or zeroes, or scans for zeroes) before
// the backend calls its checkpoint again. One chain may carry 64 segments
// of 4 MiB, and a notify 256 chains; a slice of 16 MiB is ~10 ms of page
// cache copying here, ~0.2 s on a 100 MB/s disk, so a run stops well
// within a second of its deadline, and the copy's 1 MiB requests are never
// cut.
inline constexpr uint64_t kBlockSliceBytes = 16ull << 20;

// Executes one request chain and writes its status byte. Returns the number
// of bytes placed in device-writable buffers (for the used ring). Malformed
// framing (no header, no status byte) and requests beyond the capacity throw
// GuestFault; a request that is well-formed but not allowed (a write to an
// input, an unaligned write) completes with an error status.
// `checkpoint` (if set) runs before each slice of kBlockSliceBytes and
// throws to stop the request (the run's deadline). A write the throttle
// holds back sleeps in steps of at most 100 ms, calling `throttled` (if
// set) after each: the wait is the host's doing, not the guest's idling.
uint32_t execute_block_request(BlockBackend& backend, const DescriptorChain& chain,
                               const std::function<void()>& checkpoint = {},
                               const std::function<void()>& throttled = {});

}  // namespace instar
