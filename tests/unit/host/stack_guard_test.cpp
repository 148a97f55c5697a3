// The guest's stack protector canary: random per run, its lowest byte 0.
#include "host/stack_guard.h"

#include <gtest/gtest.h>

#include <set>

namespace instar {
namespace {

TEST(StackGuard, RandomWithALowZeroByte) {
    std::set<uint64_t> seen;
    for (int i = 0; i < 64; ++i) {
        const uint64_t g = new_stack_guard();
        EXPECT_EQ(g & 0xff, 0u);
        EXPECT_NE(g, 0u);
        seen.insert(g);
    }
    EXPECT_EQ(seen.size(), 64u);  // 56 random bits: a repeat would be a broken source
}

}  // namespace
}  // namespace instar
