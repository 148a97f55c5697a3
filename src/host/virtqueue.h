// The device side of a split virtqueue (virtio 1.1, 2.6). Everything read
// from guest memory is checked before use: ring placement, indexes, chain
// length (which also catches loops), and every buffer must lie wholly in
// guest memory a device may touch. A violation throws GuestFault.
#pragma once

#include <sys/uio.h>

#include <cstdint>

#include "abi/virtio.h"
#include "host/guest_memory.h"

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
    SplitQueue(const GuestMemory& memory, uint32_t size, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa);

    // Takes the next available chain; false when the driver has posted none.
    bool pop(DescriptorChain& chain);

    // Returns a chain to the driver with the number of bytes written into
    // its device-writable buffers.
    void push_used(uint16_t head, uint32_t written);

    uint32_t size() const { return size_; }

private:
    uint16_t avail_idx() const;

    const GuestMemory& memory_;
    uint32_t size_;
    const uint8_t* desc_;
    const uint8_t* avail_;
    uint8_t* used_;
    uint16_t last_avail_ = 0;
    uint16_t used_idx_ = 0;
};

}  // namespace instar
