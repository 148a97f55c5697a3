// The block device as the guest driver programs it, through its registers:
// with and without an I/O thread, a batch is run exactly once, completion
// is visible by the next register access, and a malformed request still
// ends the run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "host/guest_fault.h"
#include "host/guest_memory.h"
#include "host/virtio_mmio_block.h"

namespace instar {
namespace {

namespace v = abi::virtio;

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
    char path[64] = "/tmp/instar-mmio-XXXXXX";
    int fd = -1;

    void SetUp() override {
        memory.set_dma_ranges({{abi::kHeapBase, abi::kHeapEnd}});
        fd = mkstemp(path);
        ASSERT_GE(fd, 0);
    }
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
    uint16_t used_idx() {
        uint16_t i;
        std::memcpy(&i, memory.at(kUsed + 2, 2), 2);
        return i;
    }
    // The driver's side of virtio 1.1, 3.1.1 and 4.2.3.2.
    void bring_up(VirtioMmioBlock& dev) {
        dev.write(v::kRegStatus, 0, 4);
        dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver, 4);
        dev.write(v::kRegDriverFeaturesSel, 1, 4);
        dev.write(v::kRegDriverFeatures, uint32_t(v::kFVersion1 >> 32), 4);
        dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk, 4);
        ASSERT_TRUE(dev.read(v::kRegStatus, 4) & v::kStatusFeaturesOk);
        dev.write(v::kRegQueueSel, 0, 4);
        dev.write(v::kRegQueueNum, kQueueSize, 4);
        dev.write(v::kRegQueueDescLow, uint32_t(kDesc), 4);
        dev.write(v::kRegQueueDriverLow, uint32_t(kAvail), 4);
        dev.write(v::kRegQueueDeviceLow, uint32_t(kUsed), 4);
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
    VirtioMmioBlock dev(memory, output(), GetParam());
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
    VirtioMmioBlock dev(memory, output(), GetParam());
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
    VirtioMmioBlock dev(memory, output(), GetParam());
    bring_up(dev);
    post_write(0, abi::kGuestRamSize - 16);
    try {
        dev.write(v::kRegQueueNotify, 0, 4);
    } catch (const GuestFault&) {
        return;  // no I/O thread: reported at once
    }
    EXPECT_THROW(dev.settle(), GuestFault);  // what the run loop checks before taking a result
}

INSTANTIATE_TEST_SUITE_P(IoThread, VirtioMmioBlockTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "IoThread" : "VcpuThread"; });

}  // namespace
}  // namespace instar
