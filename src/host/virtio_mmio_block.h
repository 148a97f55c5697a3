// One virtio-mmio (version 2) block device: the register file the guest
// driver programs, feature negotiation, and the request queue. A notify
// runs every posted request before the vCPU resumes.
#pragma once

#include <cstdint>
#include <optional>

#include "host/block_backend.h"
#include "host/guest_memory.h"
#include "host/virtqueue.h"

namespace instar {

class VirtioMmioBlock {
public:
    VirtioMmioBlock(const GuestMemory& memory, BlockBackend backend);

    // One guest access at `offset` within the device's window.
    uint64_t read(uint64_t offset, uint32_t size);
    void write(uint64_t offset, uint64_t value, uint32_t size);

    uint64_t requests_completed() const { return requests_; }

private:
    uint64_t device_features() const;
    void set_status(uint32_t status);
    void set_queue_ready(uint32_t ready);
    void notify();
    void reset();

    const GuestMemory& memory_;
    BlockBackend backend_;
    uint32_t status_ = 0;
    uint32_t device_features_sel_ = 0;
    uint32_t driver_features_sel_ = 0;
    uint64_t driver_features_ = 0;
    uint32_t queue_num_ = 0;
    uint64_t desc_ = 0, driver_ = 0, device_ = 0;
    std::optional<SplitQueue> queue_;
    uint64_t requests_ = 0;
};

}  // namespace instar
