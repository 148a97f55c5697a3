#include "guest/virtio_blk.h"

#include "abi/memory_map.h"
#include "guest/heap.h"
#include "guest/platform.h"

namespace instar::guest {
namespace v = abi::virtio;
using platform::compiler_barrier;
using platform::gpa_of;
using platform::mmio_read32;
using platform::mmio_write32;

namespace {

constexpr uint16_t kQueueSizeWanted = 256;  // 85 requests in flight; a power of two
constexpr uint64_t kWantedFeatures = v::kFVersion1 | v::kBlkFRo | v::kBlkFBlkSize | v::kBlkFFlush |
                                     v::kBlkFSegMax | v::kBlkFSizeMax | v::kBlkFWriteZeroes;

}  // namespace

bool VirtioBlk::init(uint32_t index) {
    base_ = abi::mmio_base_of(index);
    auto reg = [this](uint32_t off) { return base_ + off; };
    if (mmio_read32(reg(v::kRegMagic)) != v::kMagicValue || mmio_read32(reg(v::kRegVersion)) != v::kMmioVersion ||
        mmio_read32(reg(v::kRegDeviceId)) != v::kDeviceIdBlock)
        return false;

    mmio_write32(reg(v::kRegStatus), 0);
    mmio_write32(reg(v::kRegStatus), v::kStatusAcknowledge);
    mmio_write32(reg(v::kRegStatus), v::kStatusAcknowledge | v::kStatusDriver);

    mmio_write32(reg(v::kRegDeviceFeaturesSel), 0);
    uint64_t offered = mmio_read32(reg(v::kRegDeviceFeatures));
    mmio_write32(reg(v::kRegDeviceFeaturesSel), 1);
    offered |= uint64_t(mmio_read32(reg(v::kRegDeviceFeatures))) << 32;
    if (!(offered & v::kFVersion1)) return false;
    uint64_t accepted = offered & kWantedFeatures;
    mmio_write32(reg(v::kRegDriverFeaturesSel), 0);
    mmio_write32(reg(v::kRegDriverFeatures), uint32_t(accepted));
    mmio_write32(reg(v::kRegDriverFeaturesSel), 1);
    mmio_write32(reg(v::kRegDriverFeatures), uint32_t(accepted >> 32));
    uint32_t status = v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk;
    mmio_write32(reg(v::kRegStatus), status);
    if (!(mmio_read32(reg(v::kRegStatus)) & v::kStatusFeaturesOk)) return false;

    uint32_t generation;
    do {
        generation = mmio_read32(reg(v::kRegConfigGeneration));
        capacity_sectors_ = mmio_read32(reg(v::kRegConfig)) | (uint64_t(mmio_read32(reg(v::kRegConfig + 4))) << 32);
        size_max_ = (accepted & v::kBlkFSizeMax) ? mmio_read32(reg(v::kRegConfig + 8)) : 0;
        block_size_ = (accepted & v::kBlkFBlkSize) ? mmio_read32(reg(v::kRegConfig + 20)) : 512;
    } while (generation != mmio_read32(reg(v::kRegConfigGeneration)));
    read_only_ = (accepted & v::kBlkFRo) != 0;
    write_zeroes_ = (accepted & v::kBlkFWriteZeroes) != 0;
    if (size_max_ == 0 || size_max_ > v::kBlkSizeMax) size_max_ = v::kBlkSizeMax;
    if (block_size_ < 512 || (block_size_ & (block_size_ - 1))) return false;

    // The reset above cleared QueueReady (virtio 1.1, 4.2.2.1): no need to
    // read it back. Every register access is a VM exit.
    mmio_write32(reg(v::kRegQueueSel), 0);
    uint32_t max = mmio_read32(reg(v::kRegQueueNumMax));
    if (max < kDescPerRequest) return false;
    queue_size_ = uint16_t(max < kQueueSizeWanted ? max : kQueueSizeWanted);

    auto& arena = heap();
    desc_ = static_cast<v::Desc*>(arena.alloc(v::desc_table_bytes(queue_size_), 16));
    avail_ = static_cast<volatile uint16_t*>(arena.alloc(v::avail_ring_bytes(queue_size_), 2));
    used_ = static_cast<volatile uint16_t*>(arena.alloc(v::used_ring_bytes(queue_size_), 4));
    headers_ = static_cast<v::BlkRequestHeader*>(arena.alloc(sizeof(v::BlkRequestHeader) * max_batch(), 16));
    statuses_ = static_cast<uint8_t*>(arena.alloc(max_batch(), 1));
    if (!desc_ || !avail_ || !used_ || !headers_ || !statuses_) return false;
    avail_[0] = v::kAvailFNoInterrupt;  // the driver polls the used ring

    auto set64 = [&](uint32_t low_reg, const volatile void* p) {
        uint64_t a = gpa_of(p);
        mmio_write32(reg(low_reg), uint32_t(a));
        mmio_write32(reg(low_reg + 4), uint32_t(a >> 32));
    };
    mmio_write32(reg(v::kRegQueueNum), queue_size_);
    set64(v::kRegQueueDescLow, desc_);
    set64(v::kRegQueueDriverLow, avail_);
    set64(v::kRegQueueDeviceLow, used_);
    mmio_write32(reg(v::kRegQueueReady), 1);
    mmio_write32(reg(v::kRegStatus), status | v::kStatusDriverOk);
    return true;
}

bool VirtioBlk::start(BlkRequest* requests, uint32_t count) {
    if (pending_ || count > max_batch()) return false;
    if (count == 0) return true;
    for (uint32_t i = 0; i < count; ++i) {
        BlkRequest& r = requests[i];
        uint16_t d = uint16_t(i * kDescPerRequest);
        headers_[i] = v::BlkRequestHeader{r.type, 0, r.sector};
        statuses_[i] = 0xff;
        // OUT and WRITE_ZEROES data are read by the device.
        bool device_writes = r.type == v::kBlkTIn || r.type == v::kBlkTInstarAllocation;
        desc_[d] = v::Desc{gpa_of(&headers_[i]), sizeof(v::BlkRequestHeader), v::kDescFNext,
                           uint16_t(d + 1)};
        uint16_t status_desc = uint16_t(d + 1);
        if (r.length) {
            desc_[d + 1] = v::Desc{gpa_of(r.buffer), r.length,
                                   uint16_t(v::kDescFNext | (device_writes ? v::kDescFWrite : 0)), uint16_t(d + 2)};
            status_desc = uint16_t(d + 2);
        } else {
            desc_[d].next = status_desc;
        }
        desc_[status_desc] = v::Desc{gpa_of(&statuses_[i]), 1, v::kDescFWrite, 0};
        avail_[2 + (next_avail_ + i) % queue_size_] = d;
    }
    compiler_barrier();
    next_avail_ = uint16_t(next_avail_ + count);
    avail_[1] = next_avail_;
    compiler_barrier();
    mmio_write32(base_ + v::kRegQueueNotify, 0);
    pending_ = requests;
    pending_count_ = count;
    return true;
}

bool VirtioBlk::finish() {
    if (!pending_) return true;
    BlkRequest* requests = pending_;
    const uint32_t count = pending_count_;
    pending_ = nullptr;
    pending_count_ = 0;
    // instar's device has either run the batch before the vCPU resumed, or
    // completes it before answering any register read: one read waits,
    // without spinning. Incomplete after that, the device is broken.
    const uint16_t expected = uint16_t(last_used_ + count);
    if (used_[1] != expected) {
        (void)mmio_read32(base_ + v::kRegInterruptStatus);
        compiler_barrier();
        if (used_[1] != expected) return false;
    }
    compiler_barrier();
    last_used_ = expected;
    bool all_ok = true;
    for (uint32_t i = 0; i < count; ++i) {
        requests[i].status = statuses_[i];
        all_ok = all_ok && statuses_[i] == v::kBlkSOk;
    }
    return all_ok;
}

bool VirtioBlk::submit(BlkRequest* requests, uint32_t count) { return start(requests, count) && finish(); }

bool VirtioBlk::transfer(uint32_t type, uint64_t sector, void* buffer, uint32_t length) {
    BlkRequest r{type, sector, buffer, length, 0xff};
    return submit(&r, 1);
}

}  // namespace instar::guest
