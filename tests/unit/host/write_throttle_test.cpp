// convert -r's throttle: qemu's write bucket (a tenth of a second's worth
// may go at once, then the rate).
#include "host/write_throttle.h"

#include <gtest/gtest.h>

namespace instar {
namespace {

using namespace std::chrono_literals;
using Clock = WriteThrottle::Clock;

TEST(WriteThrottle, NoneNeverWaits) {
    WriteThrottle t;
    const Clock::time_point now = Clock::now();
    t.account(1u << 30, now);
    EXPECT_EQ(t.wait(now).count(), 0);
}

TEST(WriteThrottle, WaitsUntilTheBucketHoldsATenthOfASecond) {
    WriteThrottle t(1000);  // bytes a second: the bucket holds 100
    const Clock::time_point start = Clock::now();
    EXPECT_EQ(t.wait(start).count(), 0);
    t.account(100, start);
    EXPECT_EQ(t.wait(start).count(), 0);  // full, not over
    t.account(500, start);                // 600: 500 over, half a second
    EXPECT_NEAR(double(t.wait(start).count()), 0.5e9, 1e3);
    EXPECT_NEAR(double(t.wait(start + 200ms).count()), 0.3e9, 1e3);  // it drains meanwhile
    EXPECT_EQ(t.wait(start + 500ms).count(), 0);
    EXPECT_EQ(t.wait(start + 10s).count(), 0);
    // Drained empty, not below: a long pause gives no credit past the bucket.
    t.account(1000, start + 10s);
    EXPECT_NEAR(double(t.wait(start + 10s).count()), 0.9e9, 1e3);
}

}  // namespace
}  // namespace instar
