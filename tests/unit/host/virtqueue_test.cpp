// The device side of the virtqueue against hostile descriptor tables: every
// malformed ring or chain is refused with GuestFault, never followed; a
// notify is served from one snapshot of avail.idx; and no buffer may
// overlap a ring of any live queue.
#include <gtest/gtest.h>

#include <cstring>

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "host/guest_fault.h"
#include "host/guest_memory.h"
#include "host/ring_registry.h"
#include "host/virtqueue.h"

namespace instar {
namespace {

namespace v = abi::virtio;

constexpr uint32_t kSize = 8;
constexpr uint64_t kDesc = abi::kHeapBase;
constexpr uint64_t kAvail = kDesc + 0x1000;
constexpr uint64_t kUsed = kDesc + 0x2000;
constexpr uint64_t kData = kDesc + 0x10000;

class VirtqueueTest : public ::testing::Test {
protected:
    GuestMemory memory{abi::kGuestRamSize};
    RingRegistry rings;
    void SetUp() override { memory.set_dma_ranges({{abi::kHeapBase, abi::kHeapEnd}}); }

    void set_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        v::Desc d{addr, len, flags, next};
        std::memcpy(memory.at(kDesc + 16 * i, 16), &d, 16);
    }
    void post(uint16_t slot, uint16_t head, uint16_t new_idx) {
        std::memcpy(memory.at(kAvail + 4 + 2 * slot, 2), &head, 2);
        std::memcpy(memory.at(kAvail + 2, 2), &new_idx, 2);
    }
    uint16_t used_idx() {
        uint16_t i;
        std::memcpy(&i, memory.at(kUsed + 2, 2), 2);
        return i;
    }
    void set_avail_idx(uint16_t idx) { std::memcpy(memory.at(kAvail + 2, 2), &idx, 2); }
    SplitQueue queue() { return SplitQueue(memory, rings, kSize, kDesc, kAvail, kUsed); }

};

TEST_F(VirtqueueTest, ParsesAWellFormedChain) {
    set_desc(0, kData, 16, v::kDescFNext, 1);
    set_desc(1, kData + 512, 4096, v::kDescFNext | v::kDescFWrite, 2);
    set_desc(2, kData + 8192, 1, v::kDescFWrite, 0);
    post(0, 0, 1);
    SplitQueue q = queue();
    EXPECT_EQ(q.snapshot(), 1u);
    DescriptorChain c;
    ASSERT_TRUE(q.pop(c));
    EXPECT_EQ(c.head, 0);
    EXPECT_EQ(c.readable_count, 1u);
    EXPECT_EQ(c.writable_count, 2u);
    EXPECT_EQ(c.writable[0].iov_len, 4096u);
    EXPECT_EQ(c.writable[0].iov_base, memory.at(kData + 512, 1));
    EXPECT_FALSE(q.pop(c)) << "nothing else posted";
    q.push_used(0, 4097);
    EXPECT_EQ(used_idx(), 1);
}

TEST_F(VirtqueueTest, RefusesOutOfRangeHead) {
    post(0, kSize, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesOutOfRangeNext) {
    set_desc(0, kData, 16, v::kDescFNext, 200);
    post(0, 0, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesLoops) {
    set_desc(0, kData, 16, v::kDescFNext, 1);
    set_desc(1, kData, 16, v::kDescFNext, 0);
    post(0, 0, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesSelfLoop) {
    set_desc(3, kData, 16, v::kDescFNext, 3);
    post(0, 3, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesBuffersOutsideRam) {
    set_desc(0, abi::kGuestRamSize + 4096, 16, 0, 0);
    post(0, 0, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesBuffersOverHostRegions) {
    for (uint64_t addr : {abi::kPageTablesBase, abi::kBootConfigBase, abi::kGdtBase, abi::kImageBase}) {
        set_desc(0, addr, 16, v::kDescFWrite, 0);
        post(0, 0, 1);
        SplitQueue q = queue();
        q.snapshot();
        DescriptorChain c;
        EXPECT_THROW(q.pop(c), GuestFault) << std::hex << addr;
    }
}

TEST_F(VirtqueueTest, RefusesLengthOverflow) {
    set_desc(0, kData, 0xffffffff, 0, 0);
    post(0, 0, 1);
    DescriptorChain c;
    {
        SplitQueue q1 = queue();
        q1.snapshot();
        EXPECT_THROW(q1.pop(c), GuestFault);
    }
    set_desc(0, UINT64_MAX - 8, 16, 0, 0);
    SplitQueue q2 = queue();
    q2.snapshot();
    EXPECT_THROW(q2.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesBufferRunningOffTheHeap) {
    set_desc(0, abi::kHeapEnd - 8, 16, 0, 0);
    post(0, 0, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesIndirectDescriptors) {
    set_desc(0, kData, 16, v::kDescFIndirect, 0);
    post(0, 0, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesReadableAfterWritable) {
    set_desc(0, kData, 16, v::kDescFNext | v::kDescFWrite, 1);
    set_desc(1, kData, 16, 0, 0);
    post(0, 0, 1);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_THROW(q.pop(c), GuestFault);
}

TEST_F(VirtqueueTest, RefusesAvailIndexRunningAhead) {
    post(0, 0, kSize + 1);
    SplitQueue q = queue();
    EXPECT_THROW(q.snapshot(), GuestFault);
}

TEST_F(VirtqueueTest, RefusesBadRingPlacement) {
    EXPECT_THROW(SplitQueue(memory, rings, 6, kDesc, kAvail, kUsed), GuestFault) << "not a power of two";
    EXPECT_THROW(SplitQueue(memory, rings, 0, kDesc, kAvail, kUsed), GuestFault);
    EXPECT_THROW(SplitQueue(memory, rings, 512, kDesc, kAvail, kUsed), GuestFault) << "above the maximum";
    EXPECT_THROW(SplitQueue(memory, rings, kSize, kDesc + 8, kAvail, kUsed), GuestFault) << "misaligned";
    EXPECT_THROW(SplitQueue(memory, rings, kSize, abi::kPageTablesBase, kAvail, kUsed), GuestFault);
    EXPECT_THROW(SplitQueue(memory, rings, kSize, kDesc, kAvail, abi::kBootConfigBase), GuestFault);
    EXPECT_THROW(SplitQueue(memory, rings, kSize, kDesc, abi::kGuestRamSize, kUsed), GuestFault);
    EXPECT_FALSE(rings.overlaps(kDesc, 0x3000)) << "a refused queue leaves no rings behind";
}

// The audit's endless notify: what the host writes while it serves a
// notify (a read landing on avail.idx) must not make the notify longer.
TEST_F(VirtqueueTest, ANotifyTakesOnlyTheChainsPostedBeforeIt) {
    set_desc(0, kData, 16, 0, 0);
    post(0, 0, 1);
    post(1, 0, 2);
    SplitQueue q = queue();
    EXPECT_EQ(q.snapshot(), 2u);
    DescriptorChain c;
    ASSERT_TRUE(q.pop(c));
    set_avail_idx(7);  // rewritten mid-notify
    ASSERT_TRUE(q.pop(c));
    EXPECT_FALSE(q.pop(c)) << "the rewritten index waits for the next notify";
    EXPECT_EQ(q.snapshot(), 5u);
}

TEST_F(VirtqueueTest, ANotifyTakesAtMostTheQueueSize) {
    set_desc(0, kData, 16, 0, 0);
    for (uint16_t i = 0; i < kSize; ++i) post(i, 0, uint16_t(i + 1));
    SplitQueue q = queue();
    EXPECT_EQ(q.snapshot(), kSize);
    DescriptorChain c;
    uint32_t taken = 0;
    while (q.pop(c)) {
        ++taken;
        set_avail_idx(uint16_t(taken + kSize + 1));  // always more than a ring ahead
    }
    EXPECT_EQ(taken, kSize);
    EXPECT_THROW(q.snapshot(), GuestFault) << "more than a ring's worth is refused, not served";
}

TEST_F(VirtqueueTest, SnapshotHandlesIndexWrap) {
    set_desc(0, kData, 16, 0, 0);
    SplitQueue q = queue();
    DescriptorChain c;
    for (uint32_t round = 0; round < 65536 / kSize + 1; ++round) {
        uint16_t idx = uint16_t((round + 1) * kSize);
        set_avail_idx(idx);
        ASSERT_EQ(q.snapshot(), kSize) << round;
        for (uint32_t i = 0; i < kSize; ++i) ASSERT_TRUE(q.pop(c));
        ASSERT_FALSE(q.pop(c));
    }
}

TEST_F(VirtqueueTest, RefusesBuffersOverItsOwnRings) {
    struct Case {
        uint64_t addr;
        uint32_t len;
        const char* what;
    };
    const Case cases[] = {
        {kAvail, 4, "avail.idx"},
        {kAvail - 512 + 3, 512, "the avail ring's first byte"},
        {kAvail + v::avail_ring_bytes(kSize) - 1, 512, "the avail ring's last byte (used_event)"},
        {kDesc + 16, 16, "a descriptor"},
        {kUsed + v::used_ring_bytes(kSize) - 1, 1, "the used ring's last byte"},
        {kDesc, 0x3000, "all three"},
    };
    for (const Case& k : cases) {
        set_desc(0, kData, 16, v::kDescFNext, 1);
        set_desc(1, k.addr, k.len, v::kDescFWrite, 0);
        post(0, 0, 1);
        SplitQueue q = queue();
        q.snapshot();
        DescriptorChain c;
        EXPECT_THROW(q.pop(c), GuestFault) << k.what;
    }
    // Right next to a ring is fine (the driver packs its headers there).
    set_desc(0, kAvail + v::avail_ring_bytes(kSize), 16, v::kDescFNext, 1);
    set_desc(1, kUsed + v::used_ring_bytes(kSize), 512, v::kDescFWrite, 0);
    SplitQueue q = queue();
    q.snapshot();
    DescriptorChain c;
    EXPECT_TRUE(q.pop(c));
}

TEST_F(VirtqueueTest, RefusesBuffersOverAnotherQueuesRings) {
    constexpr uint64_t kOther = kDesc + 0x8000;
    constexpr uint64_t kOtherAvail = kOther + 0x1000;
    set_desc(0, kData, 16, v::kDescFNext, 1);
    set_desc(1, kOtherAvail, 512, v::kDescFWrite, 0);
    post(0, 0, 1);
    {
        SplitQueue other(memory, rings, kSize, kOther, kOtherAvail, kOther + 0x2000);
        SplitQueue q = queue();
        q.snapshot();
        DescriptorChain c;
        EXPECT_THROW(q.pop(c), GuestFault);
    }
    SplitQueue q = queue();
    q.snapshot();  // the other queue is gone: its memory is a buffer again
    DescriptorChain c;
    EXPECT_TRUE(q.pop(c));
}

}  // namespace
}  // namespace instar
