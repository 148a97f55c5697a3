// What both sandboxes (the VM, the op process) build the same way for a
// run: the boot config in guest RAM, and the block devices over the run's
// files, sharing one ring registry and the run's deadline.
#pragma once

#include <memory>
#include <vector>

#include "host/deadline.h"
#include "host/guest_memory.h"
#include "host/guest_run.h"
#include "host/ring_registry.h"
#include "host/virtio_mmio_block.h"

namespace instar {

// Writes the run's BootConfig at abi::kBootConfigBase.
void write_boot_config(GuestMemory& memory, const GuestRun& run);

class GuestDevices {
public:
    GuestDevices(const GuestMemory& memory, const Deadline& deadline, const GuestRun& run);
    // Every I/O thread stops before any device goes (VirtioMmioBlock::stop),
    // so no device waits on another's batch.
    ~GuestDevices();
    GuestDevices(const GuestDevices&) = delete;
    GuestDevices& operator=(const GuestDevices&) = delete;

    // The device at `index` (< abi::kMaxDevices), or nullptr.
    VirtioMmioBlock* at(uint64_t index) const { return devices_[index].get(); }

    // Waits for every batch still on an I/O thread (before a result is
    // accepted, so a fault in a batch the guest never waited for still
    // ends the run).
    void settle();

private:
    // Declared first: outlives the devices whose queues it holds.
    RingRegistry rings_;
    std::vector<std::unique_ptr<VirtioMmioBlock>> devices_;
};

}  // namespace instar
