// The block device as the guest driver programs it, through its registers:
// with and without an I/O thread, a batch is run exactly once, completion
// is visible by the next register access, and a malformed request still
// ends the run. The audit's attacks on a notify (issue 10): a read that
// re-arms the queue, a read into another device's ring, and a notify of
// 64 GiB, end the run, the last at the deadline, whatever the thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "host/guest_fault.h"
#include "host/deadline.h"
#include "host/guest_memory.h"
#include "host/ring_registry.h"
#include "host/virtio_mmio_block.h"

namespace instar {
namespace {

namespace v = abi::virtio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr uint32_t kQueueSize = 8;
constexpr uint64_t kDesc = abi::kHeapBase;
constexpr uint64_t kAvail = kDesc + 0x1000;
constexpr uint64_t kUsed = kDesc + 0x2000;
constexpr uint64_t kHeader = kDesc + 0x3000;
constexpr uint64_t kStatus = kDesc + 0x3100;
constexpr uint64_t kData = kDesc + 0x10000;
constexpr uint32_t kBlock = 4096;

class VirtioMmioBlockTest : public ::testing::TestWithParam<bool> {
protected:
    GuestMemory memory{abi::kGuestRamSize};
    RingRegistry rings;
    std::optional<Deadline> deadline;  // one at a time: it owns SIGALRM
    char path[64] = "/tmp/instar-mmio-XXXXXX";
    int fd = -1;

    void SetUp() override {
        memory.set_dma_ranges({{abi::kHeapBase, abi::kHeapEnd}});
        deadline.emplace(nullptr, std::chrono::seconds(60));
        fd = mkstemp(path);
        ASSERT_GE(fd, 0);
    }
    VirtioMmioBlock device(BlockBackend b) { return VirtioMmioBlock(memory, rings, *deadline, b, GetParam()); }
    void TearDown() override {
        close(fd);
        unlink(path);
    }
    BlockBackend output() {
        BlockBackend b;
        b.fd = fd;
        b.capacity_sectors = 1024;
        b.block_size = kBlock;
        b.read_only = false;
        return b;
    }
    void put(uint64_t gpa, const void* p, size_t n) { std::memcpy(memory.at(gpa, n), p, n); }
    // Posts one 512-byte read of `sector` into `buffer` (header at
    // `header_at`) as the only available chain; does not notify.
    void post_one_read(uint64_t header_at, uint64_t sector, uint64_t buffer) {
        v::BlkRequestHeader h{v::kBlkTIn, 0, sector};
        put(header_at, &h, sizeof h);
        v::Desc d[3] = {{header_at, sizeof h, v::kDescFNext, 1},
                        {buffer, 512, v::kDescFNext | v::kDescFWrite, 2},
                        {kStatus, 1, v::kDescFWrite, 0}};
        put(kDesc, d, sizeof d);
        uint16_t head = 0, idx = 1;
        put(kAvail + 4, &head, 2);
        put(kAvail + 2, &idx, 2);
    }
    uint16_t used_idx() {
        uint16_t i;
        std::memcpy(&i, memory.at(kUsed + 2, 2), 2);
        return i;
    }
    // The driver's side of virtio 1.1, 3.1.1 and 4.2.3.2.
    void bring_up(VirtioMmioBlock& dev, uint32_t queue_size = kQueueSize, uint64_t desc = kDesc,
                  uint64_t avail = kAvail, uint64_t used = kUsed) {
        dev.write(v::kRegStatus, 0, 4);
        dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver, 4);
        dev.write(v::kRegDriverFeaturesSel, 1, 4);
        dev.write(v::kRegDriverFeatures, uint32_t(v::kFVersion1 >> 32), 4);
        dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk, 4);
        ASSERT_TRUE(dev.read(v::kRegStatus, 4) & v::kStatusFeaturesOk);
        dev.write(v::kRegQueueSel, 0, 4);
        dev.write(v::kRegQueueNum, queue_size, 4);
        dev.write(v::kRegQueueDescLow, uint32_t(desc), 4);
        dev.write(v::kRegQueueDriverLow, uint32_t(avail), 4);
        dev.write(v::kRegQueueDeviceLow, uint32_t(used), 4);
        dev.write(v::kRegQueueReady, 1, 4);
        dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk | v::kStatusDriverOk,
                  4);
    }
    // One write request of one block at `sector`, from `data_gpa`.
    void post_write(uint64_t sector, uint64_t data_gpa) {
        v::BlkRequestHeader h{v::kBlkTOut, 0, sector};
        put(kHeader, &h, sizeof h);
        v::Desc d[3] = {{kHeader, sizeof h, v::kDescFNext, 1},
                        {data_gpa, kBlock, v::kDescFNext, 2},
                        {kStatus, 1, v::kDescFWrite, 0}};
        put(kDesc, d, sizeof d);
        uint16_t head = 0, idx = 1;
        put(kAvail + 4, &head, 2);
        put(kAvail + 2, &idx, 2);
    }
};

TEST_P(VirtioMmioBlockTest, ABatchIsDoneByTheNextRegisterRead) {
    VirtioMmioBlock dev = device(output());
    bring_up(dev);
    std::vector<uint8_t> block(kBlock, 0x5a);
    put(kData, block.data(), block.size());
    post_write(8, kData);
    dev.write(v::kRegQueueNotify, 0, 4);
    // The driver's wait: with an I/O thread this read returns only once the
    // batch is done; without one it was done before the notify returned.
    EXPECT_EQ(dev.read(v::kRegInterruptStatus, 4), 0u);
    EXPECT_EQ(used_idx(), 1);
    EXPECT_EQ(*memory.at(kStatus, 1), v::kBlkSOk);
    std::vector<uint8_t> on_disk(kBlock);
    ASSERT_EQ(pread(fd, on_disk.data(), kBlock, 8 * 512), ssize_t(kBlock));
    EXPECT_EQ(on_disk, block);
    EXPECT_EQ(dev.requests_completed(), 1u);
}

TEST_P(VirtioMmioBlockTest, AMalformedRequestEndsTheRunAtTheNextAccess) {
    VirtioMmioBlock dev = device(output());
    bring_up(dev);
    post_write(0, abi::kGuestRamSize - 16);  // runs off the end of RAM
    if (GetParam()) {
        dev.write(v::kRegQueueNotify, 0, 4);  // handed over: the fault comes later
        EXPECT_THROW(dev.read(v::kRegInterruptStatus, 4), GuestFault);
    } else {
        EXPECT_THROW(dev.write(v::kRegQueueNotify, 0, 4), GuestFault);
    }
    EXPECT_EQ(used_idx(), 0);
}

TEST_P(VirtioMmioBlockTest, AFaultIsReportedEvenIfTheGuestNeverWaits) {
    VirtioMmioBlock dev = device(output());
    bring_up(dev);
    post_write(0, abi::kGuestRamSize - 16);
    try {
        dev.write(v::kRegQueueNotify, 0, 4);
    } catch (const GuestFault&) {
        return;  // no I/O thread: reported at once
    }
    EXPECT_THROW(dev.settle(), GuestFault);  // what the run loop checks before taking a result
}

// The audit's endless notify, replayed on the host alone: the read's
// buffer covers the avail ring and the request's own header, and the file
// holds, sector after sector, "one more request, read the next sector". A
// host that re-read avail.idx while serving would never stop; this one
// refuses the buffer before reading a byte.
TEST_P(VirtioMmioBlockTest, AReadThatWouldReArmTheQueueIsRefused) {
    constexpr uint64_t kHeaderAt = kAvail + 32;  // right after an 8-entry avail ring (22 bytes)
    std::vector<uint8_t> file(4096 * 512);
    for (uint32_t j = 0; j < 4096; ++j) {
        uint8_t* s = file.data() + 512 * j;
        uint16_t avail[2] = {v::kAvailFNoInterrupt, uint16_t(j + 1)};
        std::memcpy(s, avail, sizeof avail);
        v::BlkRequestHeader h{v::kBlkTIn, 0, j + 1};
        std::memcpy(s + (kHeaderAt - kAvail), &h, sizeof h);
    }
    ASSERT_EQ(pwrite(fd, file.data(), file.size(), 0), ssize_t(file.size()));
    BlockBackend in = output();
    in.read_only = true;
    VirtioMmioBlock dev = device(in);
    bring_up(dev);
    post_one_read(kHeaderAt, 1, kAvail);
    if (GetParam()) {
        dev.write(v::kRegQueueNotify, 0, 4);
        EXPECT_THROW(dev.read(v::kRegInterruptStatus, 4), GuestFault);
    } else {
        EXPECT_THROW(dev.write(v::kRegQueueNotify, 0, 4), GuestFault);
    }
    EXPECT_EQ(used_idx(), 0);
    uint16_t idx = 0;
    std::memcpy(&idx, memory.at(kAvail + 2, 2), 2);
    EXPECT_EQ(idx, 1) << "nothing was read into the ring";
}

// One device's read may not land on another device's rings either.
TEST_P(VirtioMmioBlockTest, AReadIntoAnotherDevicesRingIsRefused) {
    constexpr uint64_t kOther = kDesc + 0x8000;
    BlockBackend in = output();
    in.read_only = true;
    VirtioMmioBlock reader = device(in);
    VirtioMmioBlock other = device(output());
    bring_up(reader);
    bring_up(other, kQueueSize, kOther, kOther + 0x1000, kOther + 0x2000);
    post_one_read(kHeader, 0, kOther + 0x1000);
    if (GetParam()) {
        reader.write(v::kRegQueueNotify, 0, 4);
        EXPECT_THROW(reader.settle(), GuestFault);
    } else {
        EXPECT_THROW(reader.write(v::kRegQueueNotify, 0, 4), GuestFault);
    }
    // Once the other device lets its queue go, that memory is a buffer like any.
    other.write(v::kRegQueueReady, 0, 4);
    reader.write(v::kRegStatus, 0, 4);
    bring_up(reader);
    post_one_read(kHeader, 0, kOther + 0x1000);
    reader.write(v::kRegQueueNotify, 0, 4);
    EXPECT_EQ(reader.read(v::kRegInterruptStatus, 4), 0u);
    EXPECT_EQ(used_idx(), 1);
}

// The most one notify can ask: 256 chains of header, 64 segments of 4 MiB
// (one buffer, aliased) and status: 64 GiB of writes, not zeroes, so each
// is really written (a flood of reads from holes is only memset, which
// this machine does at ~60 GB/s: the deadline would not be the test).
class FloodTest : public VirtioMmioBlockTest {
protected:
    static constexpr uint32_t kFloodQueue = 256;
    static constexpr uint64_t kFloodData = kDesc + 0x10000;

    BlockBackend flooded() {
        BlockBackend b = output();
        b.capacity_sectors = uint64_t(v::kBlkSegMax) * v::kBlkSizeMax / 512;
        b.detect_zeroes = true;  // as the output of a copy
        return b;
    }
    void post_flood() {
        std::memset(memory.at(kFloodData, v::kBlkSizeMax), 0x5a, v::kBlkSizeMax);
        v::BlkRequestHeader h{v::kBlkTOut, 0, 0};
        put(kHeader, &h, sizeof h);
        std::vector<v::Desc> d;
        d.push_back({kHeader, sizeof h, v::kDescFNext, 1});
        for (uint16_t i = 1; i <= v::kBlkSegMax; ++i)
            d.push_back({kFloodData, v::kBlkSizeMax, v::kDescFNext, uint16_t(i + 1)});
        d.push_back({kStatus, 1, v::kDescFWrite, 0});
        put(kDesc, d.data(), d.size() * sizeof d[0]);
        std::vector<uint16_t> ring(kFloodQueue, 0);
        put(kAvail + 4, ring.data(), ring.size() * 2);
        uint16_t idx = kFloodQueue;
        put(kAvail + 2, &idx, 2);
    }
};

TEST_P(FloodTest, EndsAtTheDeadline) {
    auto start = steady_clock::now();
    deadline.reset();
    deadline.emplace(nullptr, milliseconds(300));
    VirtioMmioBlock dev = device(flooded());
    bring_up(dev, kFloodQueue);
    post_flood();
    if (GetParam()) {
        dev.write(v::kRegQueueNotify, 0, 4);  // the vCPU runs on...
        EXPECT_THROW(dev.read(v::kRegInterruptStatus, 4), DeadlineExpired);  // ...and its wait is bounded
    } else {
        EXPECT_THROW(dev.write(v::kRegQueueNotify, 0, 4), DeadlineExpired);
    }
    auto elapsed = steady_clock::now() - start;
    EXPECT_GE(elapsed, milliseconds(300));
    EXPECT_LT(elapsed, milliseconds(1000));
    EXPECT_LT(used_idx(), kFloodQueue) << "the flood was cut short";
}

// What only a device with an I/O thread does: run on after the notify.
class IoThreadFloodTest : public FloodTest {};

TEST_P(IoThreadFloodTest, TakingTheDeviceDownDoesNotWaitForIt) {
    auto start = steady_clock::now();
    {
        VirtioMmioBlock dev = device(flooded());
        bring_up(dev, kFloodQueue);
        post_flood();
        dev.write(v::kRegQueueNotify, 0, 4);
        // The run ends here for another reason (a fault elsewhere, the
        // vCPU's own deadline): the destructor stops the batch.
    }
    EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
    EXPECT_LT(used_idx(), kFloodQueue);
    EXPECT_FALSE(deadline->expired());
}

// Nobody waits: the I/O thread itself stops writing at the deadline (it
// takes no signals, so it must look at the clock).
TEST_P(IoThreadFloodTest, TheIoThreadStopsByItself) {
    deadline.reset();
    deadline.emplace(nullptr, milliseconds(200));
    VirtioMmioBlock dev = device(flooded());
    bring_up(dev, kFloodQueue);
    post_flood();
    dev.write(v::kRegQueueNotify, 0, 4);
    std::this_thread::sleep_until(deadline->end() + milliseconds(300));
    uint16_t stopped_at = used_idx();
    std::this_thread::sleep_for(milliseconds(500));
    EXPECT_EQ(used_idx(), stopped_at) << "still writing after the deadline";
    EXPECT_LT(stopped_at, kFloodQueue);
    EXPECT_THROW(dev.settle(), DeadlineExpired);
}

// A queue set up while another device's batch is in flight cannot put its
// rings on a buffer that batch already checked: it waits for the batch,
// which here ends at the deadline. stop() ends it at once.
TEST_P(IoThreadFloodTest, ARingSetUpDuringABatchWaitsForIt) {
    deadline.reset();
    deadline.emplace(nullptr, milliseconds(300));
    VirtioMmioBlock dev = device(flooded());
    bring_up(dev, kFloodQueue);
    post_flood();
    dev.write(v::kRegQueueNotify, 0, 4);
    BlockBackend in = output();
    in.read_only = true;
    VirtioMmioBlock other = device(in);
    bring_up(other, kQueueSize, kFloodData, kFloodData + 0x1000, kFloodData + 0x2000);  // inside the flood's buffer
    EXPECT_GE(steady_clock::now(), deadline->end()) << "the rings went live while the batch still used that memory";
    EXPECT_THROW(dev.settle(), DeadlineExpired);
}

TEST_P(IoThreadFloodTest, StopEndsTheBatchAtOnce) {
    VirtioMmioBlock dev = device(flooded());
    bring_up(dev, kFloodQueue);
    post_flood();
    dev.write(v::kRegQueueNotify, 0, 4);
    auto start = steady_clock::now();
    dev.stop();
    EXPECT_LT(steady_clock::now() - start, milliseconds(500));
    EXPECT_LT(used_idx(), kFloodQueue);
}

INSTANTIATE_TEST_SUITE_P(IoThread, FloodTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "IoThread" : "VcpuThread"; });
INSTANTIATE_TEST_SUITE_P(IoThread, IoThreadFloodTest, ::testing::Values(true),
                         [](const ::testing::TestParamInfo<bool>&) { return "IoThread"; });

INSTANTIATE_TEST_SUITE_P(IoThread, VirtioMmioBlockTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "IoThread" : "VcpuThread"; });

}  // namespace
}  // namespace instar
