// One virtio-mmio (version 2) block device: the register file the guest
// driver programs, feature negotiation, and the request queue. A notify
// runs every posted request before the vCPU resumes, or, with an I/O
// thread, hands them to that thread and lets the vCPU run on: the guest can
// then prepare its next batch (say, read the next input chunks) while this
// one is written. Any other register access waits for the thread to finish
// first, so the guest never sees the device mid-batch, and reading
// InterruptStatus is how the driver waits for completion.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "host/block_backend.h"
#include "host/guest_memory.h"
#include "host/virtqueue.h"

namespace instar {

class VirtioMmioBlock {
public:
    // `io_thread`: serve requests on a thread of their own (started here,
    // so before seccomp is installed).
    VirtioMmioBlock(const GuestMemory& memory, BlockBackend backend, bool io_thread = false);
    ~VirtioMmioBlock();
    VirtioMmioBlock(const VirtioMmioBlock&) = delete;
    VirtioMmioBlock& operator=(const VirtioMmioBlock&) = delete;

    // One guest access at `offset` within the device's window. A GuestFault
    // raised while the I/O thread served a batch comes out of the next one.
    uint64_t read(uint64_t offset, uint32_t size);
    void write(uint64_t offset, uint64_t value, uint32_t size);

    // Waits for the I/O thread to finish its batch; rethrows its GuestFault.
    // Before a run's result is accepted, so a fault in a batch the guest
    // never waited for still ends the run.
    void settle();

    uint64_t requests_completed() { settle(); return requests_; }

private:
    uint64_t device_features() const;
    void set_status(uint32_t status);
    void set_queue_ready(uint32_t ready);
    void notify();
    void serve_queue();
    void reset();
    void io_thread_main();

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

    // The I/O thread owns queue_, backend_ and requests_ while `busy_`.
    std::thread io_thread_;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool started_ = false;
    bool busy_ = false;
    bool stopping_ = false;
    std::exception_ptr fault_;
};

}  // namespace instar
