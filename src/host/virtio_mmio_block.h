// One virtio-mmio (version 2) block device: the register file the guest
// driver programs, feature negotiation, and the request queue. A notify
// runs every posted request before the vCPU resumes, or, with an I/O
// thread, hands them to that thread and lets the vCPU run on: the guest can
// then prepare its next batch (say, read the next input chunks) while this
// one is written. Any other register access waits for the thread to finish
// first, so the guest never sees the device mid-batch, and reading
// InterruptStatus is how the driver waits for completion.
//
// A notify is bounded: at most the queue's size of chains, taken from one
// snapshot of avail.idx, with the run's deadline looked at before each
// chain and each slice of a request (kBlockSliceBytes); a wait for the I/O
// thread ends at the deadline too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "host/block_backend.h"
#include "host/deadline.h"
#include "host/guest_memory.h"
#include "host/ring_registry.h"
#include "host/virtqueue.h"

namespace instar {

class VirtioMmioBlock {
public:
    // `rings` and `deadline` are the run's, shared by all its devices.
    // `io_thread`: serve requests on a thread of their own (started here,
    // so before seccomp is installed).
    VirtioMmioBlock(const GuestMemory& memory, RingRegistry& rings, const Deadline& deadline, BlockBackend backend,
                    bool io_thread = false);
    ~VirtioMmioBlock();
    VirtioMmioBlock(const VirtioMmioBlock&) = delete;
    VirtioMmioBlock& operator=(const VirtioMmioBlock&) = delete;

    // One guest access at `offset` within the device's window. A GuestFault
    // raised while the I/O thread served a batch comes out of the next one.
    uint64_t read(uint64_t offset, uint32_t size);
    void write(uint64_t offset, uint64_t value, uint32_t size);

    // Waits for the I/O thread to finish its batch; rethrows its GuestFault.
    // Before a run's result is accepted, so a fault in a batch the guest
    // never waited for still ends the run. Throws DeadlineExpired when the
    // deadline passes first.
    void settle();

    uint64_t requests_completed() { settle(); return requests_; }

    // Ends the I/O thread, a batch in flight at its next slice (the
    // destructor does it too). When a run ends, every device's thread is
    // stopped before any device is destroyed: a queue leaving the ring
    // registry waits for the batches still holding it.
    void stop();

private:
    uint64_t device_features() const;
    void set_status(uint32_t status);
    void set_queue_ready(uint32_t ready);
    void notify();
    void serve_queue();
    void checkpoint() const;
    void reset();
    void io_thread_main();

    const GuestMemory& memory_;
    RingRegistry& rings_;
    const Deadline& deadline_;
    BlockBackend backend_;
    std::function<void()> checkpoint_ = [this] { checkpoint(); };
    // A write the throttle holds (convert -r) keeps an idle limit from
    // running out: the wait is the host's, not the guest's.
    std::function<void()> throttled_ = [this] {
        deadline_.note_progress();
        checkpoint();
    };
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
    std::atomic<bool> cancel_{false};  // set on teardown: a batch still running stops at its next checkpoint
    std::exception_ptr fault_;
};

}  // namespace instar
