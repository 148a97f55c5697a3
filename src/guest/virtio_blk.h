// Guest driver for instar's virtio-mmio block devices. Requests are queued
// in a batch and the device is notified once per batch: the host runs the
// whole batch in one VM exit, so throughput does not hang on exit cost.
#pragma once

#include <stdint.h>

#include "abi/virtio.h"

namespace instar::guest {

struct BlkRequest {
    uint32_t type;    // abi::virtio::kBlkTIn / kBlkTOut / kBlkTFlush / kBlkTWriteZeroes
    uint64_t sector;  // 512-byte units
    void* buffer;     // guest memory, contiguous
    uint32_t length;  // bytes, a multiple of 512 (0 for flush)
    uint8_t status;   // abi::virtio::kBlkS*, set on completion
};

class VirtioBlk {
public:
    // Negotiates with the device at `index`; false when it is absent or
    // does not behave like instar's device.
    bool init(uint32_t index);

    uint64_t capacity_bytes() const { return capacity_sectors_ * abi::virtio::kSectorSize; }
    uint32_t block_size() const { return block_size_; }
    bool read_only() const { return read_only_; }
    bool can_write_zeroes() const { return write_zeroes_; }
    uint32_t max_batch() const { return queue_size_ / kDescPerRequest; }
    uint32_t max_request_bytes() const { return size_max_; }

    // Runs `count` (<= max_batch()) requests; true when the device
    // completed all of them with status OK. Each request's status says how
    // it ended.
    bool submit(BlkRequest* requests, uint32_t count);

    // submit() in two halves, for a device with an I/O thread: start()
    // posts the batch and returns while the device works on it (the
    // requests and their buffers must stay untouched); finish() waits for
    // it and sets the statuses, with submit()'s result. One batch at a time.
    bool start(BlkRequest* requests, uint32_t count);
    bool finish();

    // One request.
    bool transfer(uint32_t type, uint64_t sector, void* buffer, uint32_t length);

private:
    static constexpr uint32_t kDescPerRequest = 3;  // header, data, status

    uint64_t base_ = 0;
    uint64_t capacity_sectors_ = 0;
    uint32_t block_size_ = 512;
    uint32_t size_max_ = 0;
    bool read_only_ = false;
    bool write_zeroes_ = false;
    uint16_t queue_size_ = 0;
    abi::virtio::Desc* desc_ = nullptr;
    volatile uint16_t* avail_ = nullptr;  // flags, idx, ring[queue_size_]
    volatile uint16_t* used_ = nullptr;   // flags, idx, ring of {u32 id, u32 len}
    uint16_t next_avail_ = 0;
    uint16_t last_used_ = 0;
    abi::virtio::BlkRequestHeader* headers_ = nullptr;
    uint8_t* statuses_ = nullptr;
    BlkRequest* pending_ = nullptr;  // the batch start() posted
    uint32_t pending_count_ = 0;
};

}  // namespace instar::guest
