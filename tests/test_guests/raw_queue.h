// A virtqueue laid out by a hostile test guest instead of the runtime's
// driver: the rings go wherever the attack wants them, and the guest posts
// whatever chains it likes. Header-only; each attack is its own guest.
#pragma once

#include <stdint.h>

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "guest/heap.h"
#include "guest/hypercall.h"
#include "guest/platform.h"

namespace instar::test_guest {

namespace v = abi::virtio;

// Heap memory or the run ends: a test guest has no use for less.
inline uint8_t* take(uint64_t bytes, uint64_t align = 4096) {
    void* p = guest::heap().alloc(bytes, align, false);
    if (!p) guest::fail(abi::GuestError::out_of_memory, "test guest heap");
    return static_cast<uint8_t*>(p);
}

class RawQueue {
public:
    // Brings up device `index` with a queue of `size` entries whose rings
    // are at the given addresses, feature VERSION_1 only.
    void init(uint32_t index, uint16_t size, void* desc, void* avail, void* used) {
        base_ = abi::mmio_base_of(index);
        size_ = size;
        next_ = 0;  // a reset queue starts over
        if (!scratch_) scratch_ = take(32, 16);
        desc_ = static_cast<v::Desc*>(desc);
        avail_ = static_cast<volatile uint16_t*>(avail);
        used_ = static_cast<volatile uint16_t*>(used);
        write(v::kRegStatus, 0);
        write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver);
        write(v::kRegDriverFeaturesSel, 1);
        write(v::kRegDriverFeatures, uint32_t(v::kFVersion1 >> 32));
        const uint32_t ok = v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk;
        write(v::kRegStatus, ok);
        if (!(read(v::kRegStatus) & v::kStatusFeaturesOk)) guest::fail(abi::GuestError::device_missing);
        avail_[0] = v::kAvailFNoInterrupt;
        write(v::kRegQueueSel, 0);
        write(v::kRegQueueNum, size);
        write(v::kRegQueueDescLow, uint32_t(reinterpret_cast<uint64_t>(desc)));
        write(v::kRegQueueDriverLow, uint32_t(reinterpret_cast<uint64_t>(avail)));
        write(v::kRegQueueDeviceLow, uint32_t(reinterpret_cast<uint64_t>(used)));
        write(v::kRegQueueReady, 1);
        write(v::kRegStatus, ok | v::kStatusDriverOk);
    }

    v::Desc* desc() { return desc_; }
    volatile uint16_t* avail() { return avail_; }

    // Puts `head` in the next `count` avail slots and publishes them.
    void post(uint16_t head, uint32_t count = 1) {
        for (uint32_t i = 0; i < count; ++i) avail_[2 + uint16_t(next_ + i) % size_] = head;
        next_ = uint16_t(next_ + count);
        guest::platform::compiler_barrier();
        avail_[1] = next_;
        guest::platform::compiler_barrier();
    }
    void notify() { write(v::kRegQueueNotify, 0); }
    // The driver's wait: the device answers a register read only once the
    // batch it was given is done.
    void wait() { (void)read(v::kRegInterruptStatus); }
    uint16_t used_idx() const { return used_[1]; }

    // header -> one data buffer -> status byte, at descriptors d, d+1, d+2.
    void chain(uint16_t d, const v::BlkRequestHeader* header, void* data, uint32_t len, bool device_writes,
               uint8_t* status) {
        desc_[d] = v::Desc{reinterpret_cast<uint64_t>(header), sizeof *header, v::kDescFNext, uint16_t(d + 1)};
        desc_[d + 1] = v::Desc{reinterpret_cast<uint64_t>(data), len,
                               uint16_t(v::kDescFNext | (device_writes ? v::kDescFWrite : 0)), uint16_t(d + 2)};
        desc_[d + 2] = v::Desc{reinterpret_cast<uint64_t>(status), 1, v::kDescFWrite, 0};
    }

    // One request, waited for; true when it completed with status OK.
    bool run(uint32_t type, uint64_t sector, void* data, uint32_t len) {
        auto* header = reinterpret_cast<v::BlkRequestHeader*>(scratch_);
        uint8_t* status = scratch_ + 16;
        *header = v::BlkRequestHeader{type, 0, sector};
        *status = 0xff;
        chain(0, header, data, len, type == v::kBlkTIn, status);
        uint16_t before = used_idx();
        post(0);
        notify();
        wait();
        return used_idx() == uint16_t(before + 1) && *status == v::kBlkSOk;
    }

private:
    uint32_t read(uint32_t reg) { return guest::platform::mmio_read32(base_ + reg); }
    void write(uint32_t reg, uint32_t value) { guest::platform::mmio_write32(base_ + reg, value); }

    uint64_t base_ = 0;
    uint16_t size_ = 0;
    uint16_t next_ = 0;
    v::Desc* desc_ = nullptr;
    volatile uint16_t* avail_ = nullptr;
    volatile uint16_t* used_ = nullptr;
    uint8_t* scratch_ = nullptr;  // run()'s header and status byte
};

// Rings in a page of their own each, away from any buffer.
inline void init_plain(RawQueue& q, uint32_t index, uint16_t size) {
    q.init(index, size, take(4096), take(4096), take(4096));
}

}  // namespace instar::test_guest
