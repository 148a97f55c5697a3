// The device side of a split virtqueue (virtio 1.1, 2.6). Everything read
// from guest memory is checked before use: ring placement, indexes, chain
// length (which also catches loops), and every buffer must lie wholly in
// guest memory a device may touch and overlap no live ring of any queue
// (RingRegistry). A violation throws GuestFault.
//
// A notify is served from one snapshot of avail.idx: the chains posted by
// then, at most the queue's size. What the host writes while serving them
// (a read's data, the used ring) cannot post more.
#pragma once

#include <sys/uio.h>

#include <cstdint>

#include "abi/virtio.h"
#include "host/guest_memory.h"
#include "host/ring_registry.h"

namespace instar {

// Longest chain instar's block device accepts: header, data segments, status.
inline constexpr uint32_t kMaxChainLength = abi::virtio::kBlkSegMax + 2;

struct DescriptorChain {
    uint16_t head = 0;
    uint32_t readable_count = 0;  // device-readable buffers come first...
    uint32_t writable_count = 0;  // ...then device-writable ones
    iovec readable[kMaxChainLength];
    iovec writable[kMaxChainLength];
};

class SplitQueue {
public:
    // Checks the rings and adds them to `rings` for as long as the queue lives.
    SplitQueue(const GuestMemory& memory, RingRegistry& rings, uint32_t size, uint64_t desc_gpa,
               uint64_t avail_gpa, uint64_t used_gpa);
    ~SplitQueue();
    SplitQueue(const SplitQueue&) = delete;
    SplitQueue& operator=(const SplitQueue&) = delete;

    // Reads avail.idx, once, for a notify: returns how many chains pop()
    // will hand out (at most size()).
    uint32_t snapshot();

    // Takes the next chain of the snapshot; false once they are all taken.
    bool pop(DescriptorChain& chain);

    // Returns a chain to the driver with the number of bytes written into
    // its device-writable buffers.
    void push_used(uint16_t head, uint32_t written);

    uint32_t size() const { return size_; }

private:
    uint16_t avail_idx() const;

    const GuestMemory& memory_;
    RingRegistry& rings_;
    uint32_t size_;
    const uint8_t* desc_;
    const uint8_t* avail_;
    uint8_t* used_;
    uint16_t last_avail_ = 0;
    uint16_t snapshot_ = 0;  // avail.idx as the current notify found it
    uint16_t used_idx_ = 0;
};

}  // namespace instar
