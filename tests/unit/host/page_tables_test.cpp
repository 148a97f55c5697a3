// The guest's page tables: every page is either unmapped, or mapped with
// exactly the permissions its region needs, and never writable+executable.
#include <gtest/gtest.h>

#include "abi/memory_map.h"
#include "host/error.h"
#include "host/guest_loader.h"
#include "host/guest_memory.h"
#include "host/page_tables.h"

namespace instar {
namespace {

using namespace abi;

LoadedImage sample_image() {
    LoadedImage image;
    image.entry = kImageBase + 0x1000;
    image.mappings = {{kImageBase, kImageBase + 0x1000, false, false, "rodata"},
                      {kImageBase + 0x1000, kImageBase + 0x3000, false, true, "code"},
                      {kImageBase + 0x3000, kImageBase + 0x8000, true, false, "data"}};
    return image;
}

class PageTablesTest : public ::testing::Test {
protected:
    GuestMemory memory{kGuestRamSize};
    std::vector<PageMapping> mappings = guest_page_mappings(sample_image());
    void SetUp() override { build_page_tables(memory.base(), memory.size(), mappings); }
    PageLookup at(uint64_t va) { return lookup_page(memory.base(), memory.size(), va); }
};

TEST_F(PageTablesTest, NoPageIsWritableAndExecutable) {
    for (uint64_t va = 0; va < kAddressSpaceEnd; va += kPageSize) {
        PageLookup p = at(va);
        if (p.present) {
            EXPECT_FALSE(p.writable && p.executable) << std::hex << va;
            EXPECT_EQ(p.physical, va) << "identity map broken at " << std::hex << va;
        }
    }
}

TEST_F(PageTablesTest, OnlyTheCodeIsExecutable) {
    for (uint64_t va = 0; va < kAddressSpaceEnd; va += kPageSize) {
        bool in_code = va >= kImageBase + 0x1000 && va < kImageBase + 0x3000;
        EXPECT_EQ(at(va).executable && at(va).present, in_code) << std::hex << va;
    }
}

TEST_F(PageTablesTest, GuardPagesAndHostRegionsAreUnmapped) {
    EXPECT_FALSE(at(0).present) << "null page";
    for (uint64_t va = kPageTablesBase; va < kPageTablesEnd; va += kPageSize) EXPECT_FALSE(at(va).present);
    EXPECT_FALSE(at(kStackBase - kPageSize).present) << "below the stack";
    EXPECT_FALSE(at(kStackTop).present) << "above the stack";
    EXPECT_FALSE(at(kExceptionStackBase - kPageSize).present);
    EXPECT_FALSE(at(kExceptionStackTop).present);
    EXPECT_FALSE(at(kHeapEnd).present) << "last RAM page";
    EXPECT_FALSE(at(kImageBase + 0x8000).present) << "after the image";
    EXPECT_FALSE(at(kAddressSpaceEnd).present);
}

TEST_F(PageTablesTest, HostOwnedPagesAreReadOnlyForTheGuest) {
    EXPECT_TRUE(at(kGdtBase).present);
    EXPECT_FALSE(at(kGdtBase).writable);
    EXPECT_TRUE(at(kBootConfigBase).present);
    EXPECT_FALSE(at(kBootConfigBase).writable);
    EXPECT_FALSE(at(kImageBase).writable) << "rodata";
    EXPECT_FALSE(at(kImageBase + 0x1000).writable) << "code";
}

TEST_F(PageTablesTest, StackHeapAndDataAreWritable) {
    EXPECT_TRUE(at(kStackTop - kPageSize).writable);
    EXPECT_TRUE(at(kImageBase + 0x3000).writable);
    // Every heap page, whether it sits in a 2 MiB large page or in the last,
    // partly covered block before the guard page.
    for (uint64_t va = kHeapBase; va < kHeapEnd; va += kPageSize) {
        PageLookup p = at(va);
        ASSERT_TRUE(p.present && p.writable && !p.executable) << std::hex << va;
        ASSERT_EQ(p.physical, va);
    }
    EXPECT_EQ(at(kHeapEnd - 1).physical, kHeapEnd - 1);
}

TEST_F(PageTablesTest, DeviceBuffersMayOnlyUseWritableRam) {
    memory.set_dma_ranges(dma_ranges(mappings));
    EXPECT_NE(memory.dma(kHeapBase, 4096), nullptr);
    EXPECT_EQ(memory.dma(kImageBase + 0x1000, 16), nullptr) << "code";
    EXPECT_EQ(memory.dma(kPageTablesBase, 8), nullptr) << "page tables";
    EXPECT_EQ(memory.dma(kBootConfigBase, 8), nullptr) << "boot config";
    EXPECT_EQ(memory.dma(kMmioBase, 4), nullptr) << "device window";
    EXPECT_EQ(memory.dma(kHeapEnd - 8, 16), nullptr) << "runs off the heap";
}

TEST(PageTablesBuild, RefusesWritableExecutable) {
    GuestMemory memory(kGuestRamSize);
    EXPECT_THROW(build_page_tables(memory.base(), memory.size(), {{kHeapBase, kHeapBase + 4096, true, true, "x"}}),
                 Error);
}

TEST(PageTablesBuild, RefusesOverlapAndPageTableCover) {
    GuestMemory memory(kGuestRamSize);
    EXPECT_THROW(build_page_tables(memory.base(), memory.size(),
                                   {{kHeapBase, kHeapBase + 8192, true, false, "a"},
                                    {kHeapBase + 4096, kHeapBase + 12288, false, false, "b"}}),
                 Error);
    EXPECT_THROW(build_page_tables(memory.base(), memory.size(),
                                   {{kPageTablesBase, kPageTablesBase + 4096, false, false, "pt"}}),
                 Error);
    EXPECT_THROW(build_page_tables(memory.base(), memory.size(), {{kHeapBase + 1, kHeapBase + 4096, true, false, "u"}}),
                 Error);
    EXPECT_THROW(build_page_tables(memory.base(), memory.size(),
                                   {{kAddressSpaceEnd, kAddressSpaceEnd + 4096, true, false, "far"}}),
                 Error);
}

}  // namespace
}  // namespace instar
