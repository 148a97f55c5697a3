#include <gtest/gtest.h>

#include <cstdint>

#include "host/guest_memory.h"

namespace instar {
namespace {

TEST(GuestMemory, AtChecksBoundsWithoutOverflow) {
    GuestMemory m(2 << 20);
    EXPECT_NE(m.at(0, 2 << 20), nullptr);
    EXPECT_EQ(m.at(1, 2 << 20), nullptr);
    EXPECT_EQ(m.at((2 << 20) + 1, 0), nullptr);
    EXPECT_EQ(m.at(UINT64_MAX, 2), nullptr);
    EXPECT_EQ(m.at(16, UINT64_MAX - 8), nullptr);
}

TEST(GuestMemory, DmaNeedsOneWholeRange) {
    GuestMemory m(2 << 20);
    m.set_dma_ranges({{0x1000, 0x2000}, {0x2000, 0x3000}});
    EXPECT_NE(m.dma(0x1000, 0x1000), nullptr);
    EXPECT_EQ(m.dma(0x1800, 0x1000), nullptr) << "spans two ranges";
    EXPECT_EQ(m.dma(0x800, 0x10), nullptr);
    EXPECT_EQ(m.dma(0x1000, UINT64_MAX), nullptr);
}

}  // namespace
}  // namespace instar
