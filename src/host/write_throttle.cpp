#include "host/write_throttle.h"

namespace instar {

void WriteThrottle::drain(Clock::time_point now) {
    if (drained_ != Clock::time_point{} && now > drained_) {
        const double seconds = std::chrono::duration<double>(now - drained_).count();
        level_ -= seconds * double(rate_);
        if (level_ < 0) level_ = 0;
    }
    drained_ = now;
}

std::chrono::nanoseconds WriteThrottle::wait(Clock::time_point now) {
    if (!rate_) return std::chrono::nanoseconds(0);
    drain(now);
    // qemu's bucket holds avg / 10 when no burst size is set.
    const double extra = level_ - double(rate_) / 10;
    if (extra <= 0) return std::chrono::nanoseconds(0);
    return std::chrono::nanoseconds(int64_t(extra / double(rate_) * 1e9));
}

void WriteThrottle::account(uint64_t bytes, Clock::time_point now) {
    if (!rate_) return;
    drain(now);
    level_ += double(bytes);
}

}  // namespace instar
