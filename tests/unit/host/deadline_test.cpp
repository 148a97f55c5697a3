// The two ways a run's time is counted: a total limit ends it `timeout`
// after it starts whatever it does; an idle limit starts again with each
// request completed on the output.
#include "host/deadline.h"

#include <gtest/gtest.h>

#include <thread>

namespace instar {
namespace {

using namespace std::chrono_literals;

TEST(DeadlineTest, ATotalLimitIgnoresProgress) {
    Deadline d(nullptr, 150ms);
    std::this_thread::sleep_for(100ms);
    d.note_progress();
    std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(d.expired());
    EXPECT_THROW(d.check(), DeadlineExpired);
    EXPECT_EQ(d.progress_count(), 1u);
}

TEST(DeadlineTest, AnIdleLimitStartsAgainWithEachProgress) {
    Deadline d(nullptr, 150ms, TimeLimit::idle);
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(100ms);
        EXPECT_FALSE(d.expired());
        d.note_progress();
    }
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(d.expired());
    try {
        d.check();
        FAIL() << "no exception";
    } catch (const DeadlineExpired& e) {
        EXPECT_STREQ(e.what(), "guest made no progress for 150 ms (see --timeout)");
    }
}

TEST(DeadlineTest, HeartbeatsFollowProgressAtMostOncePerSecond) {
    Deadline d(nullptr, 10s, TimeLimit::idle);
    int beats = 0;
    std::function<void()> alive = [&] { ++beats; };
    Heartbeat h(d, alive);
    h.beat();
    EXPECT_EQ(beats, 0) << "no progress yet";
    d.note_progress();
    h.beat();
    h.beat();
    EXPECT_EQ(beats, 1);
    d.note_progress();
    h.beat();
    EXPECT_EQ(beats, 1) << "within the second";
}

}  // namespace
}  // namespace instar
