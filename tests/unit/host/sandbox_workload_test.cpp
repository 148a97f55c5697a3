// What the sandbox child does after its seccomp filter is loaded, without
// KVM: an output device with an I/O thread (started before the filter)
// serves a batch of writes (data, and zero blocks left as holes), the
// device and guest memory are torn down (the thread joined and its stack
// given back), and a report goes down a pipe. None of it may be refused.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "host/deadline.h"
#include "host/guest_memory.h"
#include "host/ring_registry.h"
#include "host/seccomp_filter.h"
#include "host/virtio_mmio_block.h"
#include "support/in_child.h"
#include "support/temp_dir.h"

namespace instar {
namespace {

namespace v = abi::virtio;

constexpr uint64_t kDesc = abi::kHeapBase, kAvail = kDesc + 0x1000, kUsed = kDesc + 0x2000;
constexpr uint64_t kHeaders = kDesc + 0x3000, kStatus = kDesc + 0x3800, kData = kDesc + 0x100000;
constexpr uint32_t kBlock = 65536, kRequests = 8;

// The guest driver's side, as src/guest/virtio_blk.cpp does it: bring the
// device up, post kRequests one-block writes, notify, wait.
bool write_batch(GuestMemory& memory, VirtioMmioBlock& dev) {
    dev.write(v::kRegStatus, 0, 4);
    dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver, 4);
    dev.write(v::kRegDriverFeaturesSel, 1, 4);
    dev.write(v::kRegDriverFeatures, uint32_t(v::kFVersion1 >> 32), 4);
    dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk, 4);
    dev.write(v::kRegQueueSel, 0, 4);
    dev.write(v::kRegQueueNum, 64, 4);
    dev.write(v::kRegQueueDescLow, uint32_t(kDesc), 4);
    dev.write(v::kRegQueueDriverLow, uint32_t(kAvail), 4);
    dev.write(v::kRegQueueDeviceLow, uint32_t(kUsed), 4);
    dev.write(v::kRegQueueReady, 1, 4);
    dev.write(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk | v::kStatusDriverOk, 4);
    for (uint16_t i = 0; i < kRequests; ++i) {
        v::BlkRequestHeader h{v::kBlkTOut, 0, uint64_t(i) * kBlock / 512};
        std::memcpy(memory.at(kHeaders + i * 16u, sizeof h), &h, sizeof h);
        // Odd blocks hold data, even ones are zero (left as holes).
        std::memset(memory.at(kData + uint64_t(i) * kBlock, kBlock), i % 2 ? 0x5a : 0, kBlock);
        v::Desc d[3] = {{kHeaders + i * 16u, sizeof h, v::kDescFNext, uint16_t(3 * i + 1)},
                        {kData + uint64_t(i) * kBlock, kBlock, v::kDescFNext, uint16_t(3 * i + 2)},
                        {kStatus + i, 1, v::kDescFWrite, 0}};
        std::memcpy(memory.at(kDesc + 3 * i * sizeof(v::Desc), sizeof d), d, sizeof d);
        uint16_t head = uint16_t(3 * i);
        std::memcpy(memory.at(kAvail + 4 + 2 * i, 2), &head, 2);
    }
    uint16_t idx = kRequests;
    std::memcpy(memory.at(kAvail + 2, 2), &idx, 2);
    dev.write(v::kRegQueueNotify, 0, 4);
    dev.read(v::kRegInterruptStatus, 4);  // waits for the I/O thread
    for (uint32_t i = 0; i < kRequests; ++i)
        if (*memory.at(kStatus + i, 1) != v::kBlkSOk) return false;
    return true;
}

TEST(SandboxWorkloadTest, DeviceWithIoThreadRunsAndEndsUnderTheFilter) {
    testing::TempDir dir;
    ASSERT_TRUE(dir.ok());
    int out = open(dir.file("out").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(out, 0);
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);

    int status = testing::in_child([&] {
        auto memory = std::make_unique<GuestMemory>(abi::kGuestRamSize);
        memory->set_dma_ranges({{abi::kHeapBase, abi::kHeapEnd}});
        BlockBackend b;
        b.fd = out;
        b.capacity_sectors = 1 << 20;
        b.block_size = kBlock;
        b.read_only = false;
        b.detect_zeroes = true;
        // As run_guest: the run's ring registry and deadline (no vCPU here,
        // so the clock alone), both outliving the device.
        RingRegistry rings;
        Deadline deadline(nullptr, std::chrono::seconds(60));
        auto dev = std::make_unique<VirtioMmioBlock>(*memory, rings, deadline, b, true);
        install_seccomp(SeccompPolicy{-1});
        bool ok = write_batch(*memory, *dev);
        dev.reset();
        memory.reset();
        std::vector<char> report(100000, ok ? 'y' : 'n');  // heap, as the report is
        if (write(pipe_fds[1], report.data(), 1) != 1) return 2;
        return ok ? 0 : 1;
    });
    ASSERT_TRUE(testing::exited_with(status, 0)) << "child status " << status;
    char c = 0;
    ASSERT_EQ(read(pipe_fds[0], &c, 1), 1);
    EXPECT_EQ(c, 'y');
    std::vector<uint8_t> data(kBlock);
    ASSERT_EQ(pread(out, data.data(), kBlock, kBlock), ssize_t(kBlock));
    EXPECT_EQ(data, std::vector<uint8_t>(kBlock, 0x5a));
    close(out);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

}  // namespace
}  // namespace instar
