#include "host/virtio_mmio_block.h"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <utility>

#include "abi/virtio.h"
#include "host/error.h"
#include "host/guest_fault.h"

namespace instar {
namespace v = abi::virtio;
namespace {

// Ends a batch the device is being torn down under; never leaves the I/O thread.
struct Cancelled {};

}  // namespace

VirtioMmioBlock::VirtioMmioBlock(const GuestMemory& memory, RingRegistry& rings, const Deadline& deadline,
                                 BlockBackend backend, bool io_thread)
    : memory_(memory), rings_(rings), deadline_(deadline), backend_(backend) {
    if (!io_thread) return;
    // Signals stay with the vCPU thread: the deadline's SIGALRM must
    // interrupt KVM_RUN, not land here.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    try {
        io_thread_ = std::thread([this] { io_thread_main(); });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        throw Error("cannot start a block device's I/O thread");
    }
    pthread_sigmask(SIG_SETMASK, &before, nullptr);
    // The C library finishes setting a thread up (rseq, robust futex list)
    // on the thread itself; that must happen before seccomp is installed.
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return started_; });
}

VirtioMmioBlock::~VirtioMmioBlock() { stop(); }

void VirtioMmioBlock::stop() {
    if (!io_thread_.joinable()) return;
    // The run is over (often because of this very batch): the thread stops
    // at its next checkpoint, so the join waits at most one slice.
    cancel_.store(true);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    io_thread_.join();
}

void VirtioMmioBlock::io_thread_main() {
    std::unique_lock<std::mutex> lock(mutex_);
    started_ = true;
    changed_.notify_all();
    for (;;) {
        changed_.wait(lock, [this] { return busy_ || stopping_; });
        if (stopping_) return;
        lock.unlock();
        std::exception_ptr fault;
        try {
            serve_queue();
        } catch (...) {
            fault = std::current_exception();
        }
        lock.lock();
        fault_ = fault;
        busy_ = false;
        changed_.notify_all();
    }
}

void VirtioMmioBlock::settle() {
    if (!io_thread_.joinable()) return;
    std::unique_lock<std::mutex> lock(mutex_);
    // The thread itself stops at the deadline too, but a wait must not
    // hang on a slice in progress: SIGALRM reaches this thread, not that one.
    // An idle limit's end moves while the thread completes requests.
    while (!changed_.wait_until(lock, deadline_.end(), [this] { return !busy_; }))
        if (deadline_.expired()) deadline_.fail();
    if (fault_) std::rethrow_exception(std::exchange(fault_, nullptr));
}

void VirtioMmioBlock::checkpoint() const {
    if (cancel_.load(std::memory_order_relaxed)) throw Cancelled{};
    deadline_.check();
}

uint64_t VirtioMmioBlock::device_features() const {
    uint64_t f = v::kFVersion1 | v::kBlkFBlkSize | v::kBlkFFlush | v::kBlkFSegMax | v::kBlkFSizeMax;
    if (backend_.read_only) f |= v::kBlkFRo;
    else f |= v::kBlkFWriteZeroes;
    return f;
}

uint64_t VirtioMmioBlock::read(uint64_t offset, uint32_t size) {
    settle();
    if (offset >= v::kRegConfig) {
        v::BlkConfig config{};
        config.capacity = backend_.capacity_sectors;
        config.size_max = v::kBlkSizeMax;
        config.seg_max = v::kBlkSegMax;
        config.blk_size = backend_.block_size;
        config.max_write_zeroes_sectors = v::kBlkWriteZeroesMaxSectors;
        config.max_write_zeroes_seg = v::kBlkWriteZeroesMaxSeg;
        config.write_zeroes_may_unmap = 1;
        uint64_t at = offset - v::kRegConfig;
        if (size > sizeof(uint64_t) || at > sizeof config || size > sizeof config - at) return 0;
        uint64_t value = 0;
        std::memcpy(&value, reinterpret_cast<const uint8_t*>(&config) + at, size);
        return value;
    }
    if (size != 4) return 0;
    switch (offset) {
    case v::kRegMagic: return v::kMagicValue;
    case v::kRegVersion: return v::kMmioVersion;
    case v::kRegDeviceId: return v::kDeviceIdBlock;
    case v::kRegVendorId: return v::kVendorId;
    case v::kRegDeviceFeatures:
        return device_features_sel_ == 0 ? uint32_t(device_features())
               : device_features_sel_ == 1 ? uint32_t(device_features() >> 32) : 0;
    case v::kRegQueueNumMax: return v::kQueueSizeMax;
    case v::kRegQueueReady: return queue_ ? 1 : 0;
    case v::kRegInterruptStatus: return 0;
    case v::kRegStatus: return status_;
    case v::kRegConfigGeneration: return 0;
    default: return 0;
    }
}

void VirtioMmioBlock::write(uint64_t offset, uint64_t value, uint32_t size) {
    settle();
    if (size != 4 || offset >= v::kRegConfig) return;  // config space is read-only
    uint32_t val = uint32_t(value);
    auto set_half = [&](uint64_t& target, bool high) {
        if (queue_) return;  // addresses are fixed while the queue is live
        target = high ? (target & 0xffffffffull) | (uint64_t(val) << 32) : (target & ~0xffffffffull) | val;
    };
    switch (offset) {
    case v::kRegDeviceFeaturesSel: device_features_sel_ = val; break;
    case v::kRegDriverFeaturesSel: driver_features_sel_ = val; break;
    case v::kRegDriverFeatures:
        if (driver_features_sel_ == 0) driver_features_ = (driver_features_ & ~0xffffffffull) | val;
        else if (driver_features_sel_ == 1) driver_features_ = (driver_features_ & 0xffffffffull) | (uint64_t(val) << 32);
        break;
    case v::kRegQueueSel:
        if (val != 0) throw GuestFault("block device has one queue");
        break;
    case v::kRegQueueNum:
        if (!queue_) queue_num_ = val;
        break;
    case v::kRegQueueReady: set_queue_ready(val); break;
    case v::kRegQueueNotify: notify(); break;
    case v::kRegInterruptAck: break;
    case v::kRegStatus: set_status(val); break;
    case v::kRegQueueDescLow: set_half(desc_, false); break;
    case v::kRegQueueDescHigh: set_half(desc_, true); break;
    case v::kRegQueueDriverLow: set_half(driver_, false); break;
    case v::kRegQueueDriverHigh: set_half(driver_, true); break;
    case v::kRegQueueDeviceLow: set_half(device_, false); break;
    case v::kRegQueueDeviceHigh: set_half(device_, true); break;
    default: break;
    }
}

void VirtioMmioBlock::reset() {
    status_ = 0;
    driver_features_ = 0;
    queue_num_ = 0;
    desc_ = driver_ = device_ = 0;
    queue_.reset();
}

void VirtioMmioBlock::set_status(uint32_t status) {
    if (status == 0) return reset();
    // FEATURES_OK sticks only when the driver accepted a subset of what we
    // offer that includes VERSION_1 (virtio 1.1, 3.1.1).
    if ((status & v::kStatusFeaturesOk) && !(status_ & v::kStatusFeaturesOk)) {
        bool acceptable = (driver_features_ & ~device_features()) == 0 && (driver_features_ & v::kFVersion1);
        if (!acceptable) status &= ~v::kStatusFeaturesOk;
    }
    status_ = status;
}

void VirtioMmioBlock::set_queue_ready(uint32_t ready) {
    if (!ready) {
        queue_.reset();
        return;
    }
    if (!(status_ & v::kStatusFeaturesOk)) throw GuestFault("queue enabled before feature negotiation");
    queue_.emplace(memory_, rings_, queue_num_, desc_, driver_, device_);
}

void VirtioMmioBlock::notify() {
    if (!queue_ || !(status_ & v::kStatusDriverOk)) throw GuestFault("block device notified before it was ready");
    if (!io_thread_.joinable()) return serve_queue();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        busy_ = true;
    }
    changed_.notify_all();
}

// One notify: the chains posted by then (at most the queue's size), each
// after a checkpoint. While it runs no ring can be set up over a buffer it
// checked (RingRegistry::hold).
void VirtioMmioBlock::serve_queue() {
    auto hold = rings_.hold();
    queue_->snapshot();
    DescriptorChain chain;
    while (queue_->pop(chain)) {
        checkpoint();
        uint32_t written = execute_block_request(backend_, chain, checkpoint_, throttled_);
        // Progress is work done on the output: a guest that only reads
        // (looping over metadata, say) is not moving.
        if (!backend_.read_only) deadline_.note_progress();
        queue_->push_used(chain.head, written);
        ++requests_;
    }
}

}  // namespace instar
