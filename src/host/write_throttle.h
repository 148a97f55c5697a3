// convert -r: the output's writes held to an average rate, as qemu-img's
// set_rate_limit holds its target's (a throttle group's write-bandwidth
// bucket): a bucket that drains at the rate and may hold a tenth of a
// second's worth; a write waits while the bucket is fuller than that, then
// adds its bytes. So a long copy runs at the rate, a short one in a burst.
#pragma once

#include <chrono>
#include <cstdint>

namespace instar {

class WriteThrottle {
public:
    using Clock = std::chrono::steady_clock;

    WriteThrottle() = default;  // no limit
    // Bytes a second; 0: no limit.
    explicit WriteThrottle(uint64_t rate) : rate_(rate) {}
    bool active() const { return rate_ != 0; }

    // How long a write arriving `now` must wait before it goes.
    std::chrono::nanoseconds wait(Clock::time_point now);
    // The write of `bytes` went at `now`.
    void account(uint64_t bytes, Clock::time_point now);

private:
    void drain(Clock::time_point now);

    uint64_t rate_ = 0;
    double level_ = 0;  // bytes in the bucket
    Clock::time_point drained_{};
};

}  // namespace instar
