#include "host/virtqueue.h"

#include <cstring>

#include "host/guest_fault.h"

namespace instar {
namespace v = abi::virtio;

SplitQueue::SplitQueue(const GuestMemory& memory, RingRegistry& rings, uint32_t size, uint64_t desc_gpa,
                       uint64_t avail_gpa, uint64_t used_gpa)
    : memory_(memory), rings_(rings), size_(size) {
    if (size == 0 || size > v::kQueueSizeMax || (size & (size - 1)))
        throw GuestFault("virtqueue size " + std::to_string(size) + " is invalid");
    if (desc_gpa % 16 || avail_gpa % 2 || used_gpa % 4) throw GuestFault("virtqueue rings are misaligned");
    desc_ = memory.dma(desc_gpa, v::desc_table_bytes(size));
    avail_ = memory.dma(avail_gpa, v::avail_ring_bytes(size));
    used_ = memory.dma(used_gpa, v::used_ring_bytes(size));
    if (!desc_ || !avail_ || !used_) throw GuestFault("virtqueue rings lie outside guest memory a device may use");
    rings_.add(this, {{desc_gpa, desc_gpa + v::desc_table_bytes(size)},
                      {avail_gpa, avail_gpa + v::avail_ring_bytes(size)},
                      {used_gpa, used_gpa + v::used_ring_bytes(size)}});
}

SplitQueue::~SplitQueue() { rings_.remove(this); }

uint16_t SplitQueue::avail_idx() const {
    return __atomic_load_n(reinterpret_cast<const uint16_t*>(avail_ + 2), __ATOMIC_ACQUIRE);
}

uint32_t SplitQueue::snapshot() {
    uint16_t idx = avail_idx();
    uint16_t available = uint16_t(idx - last_avail_);
    if (available > size_) throw GuestFault("virtqueue available index ran ahead of the ring");
    snapshot_ = idx;
    return available;
}

bool SplitQueue::pop(DescriptorChain& chain) {
    if (last_avail_ == snapshot_) return false;
    uint16_t head;
    copy_from_guest(&head, avail_ + 4 + 2 * (last_avail_ % size_), 2);
    ++last_avail_;

    chain.head = head;
    chain.readable_count = chain.writable_count = 0;
    uint32_t index = head;
    for (uint32_t count = 0;; ++count) {
        if (index >= size_) throw GuestFault("descriptor index " + std::to_string(index) + " is out of range");
        if (count == kMaxChainLength || count == size_) throw GuestFault("descriptor chain is too long or loops");
        v::Desc d;
        copy_from_guest(&d, desc_ + 16 * index, sizeof d);
        if (d.flags & v::kDescFIndirect) throw GuestFault("indirect descriptors were not negotiated");
        uint8_t* buf = memory_.dma(d.addr, d.len);
        if (!buf) throw GuestFault("descriptor buffer lies outside guest memory a device may use");
        if (rings_.overlaps(d.addr, d.len)) throw GuestFault("descriptor buffer overlaps a virtqueue ring");
        if (d.flags & v::kDescFWrite) {
            chain.writable[chain.writable_count++] = iovec{buf, d.len};
        } else {
            if (chain.writable_count) throw GuestFault("device-readable descriptor after a device-writable one");
            chain.readable[chain.readable_count++] = iovec{buf, d.len};
        }
        if (!(d.flags & v::kDescFNext)) break;
        index = d.next;
    }
    return true;
}

void SplitQueue::push_used(uint16_t head, uint32_t written) {
    v::UsedElem e{head, written};
    std::memcpy(used_ + 4 + 8 * (used_idx_ % size_), &e, sizeof e);
    ++used_idx_;
    __atomic_store_n(reinterpret_cast<uint16_t*>(used_ + 2), used_idx_, __ATOMIC_RELEASE);
}

}  // namespace instar
