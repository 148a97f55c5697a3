// What a virtio-blk request does to the file behind a device: reads and
// writes go straight between the file and guest memory with preadv/pwritev
// on the chain's buffers: no bounce buffer, no copy in between.
#pragma once

#include <cstdint>

#include "host/virtqueue.h"

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
};

// Executes one request chain and writes its status byte. Returns the number
// of bytes placed in device-writable buffers (for the used ring). Malformed
// framing (no header, no status byte) and requests beyond the capacity throw
// GuestFault; a request that is well-formed but not allowed (a write to an
// input, an unaligned write) completes with an error status.
uint32_t execute_block_request(BlockBackend& backend, const DescriptorChain& chain);

}  // namespace instar
