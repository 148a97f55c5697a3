#include <gtest/gtest.h>

#include <vector>

#include "formats/common/arena.h"

namespace instar::formats {
namespace {

TEST(Arena, AllocationsAreZeroedAlignedAndBounded) {
    std::vector<uint8_t> buf(4096, 0xaa);
    Arena a(buf.data(), buf.size());
    auto* p = static_cast<uint8_t*>(a.alloc(100, 64));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(p[i], 0);
    EXPECT_EQ(a.alloc(8192), nullptr);
    EXPECT_EQ(a.alloc(size_t(-1)), nullptr);
}

TEST(Arena, KnownZeroMemoryIsClearedAgainAfterReset) {
    std::vector<uint8_t> buf(4096, 0);
    Arena a(buf.data(), buf.size(), /*known_zero=*/true);
    auto* p = static_cast<uint8_t*>(a.alloc(256));
    std::fill(p, p + 256, 0x55);
    a.reset();
    auto* q = static_cast<uint8_t*>(a.alloc(512));
    ASSERT_EQ(p, q);
    for (int i = 0; i < 512; ++i) EXPECT_EQ(q[i], 0) << i;
}

}  // namespace
}  // namespace instar::formats
