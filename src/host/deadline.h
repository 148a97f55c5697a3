// Ends a guest that runs too long. A wall-clock timer raises SIGALRM; the
// handler sets kvm_run.immediate_exit, so KVM_RUN returns whether the signal
// lands during the run or just before it.
//
// The host also works for the guest outside KVM_RUN: a notify makes it move
// up to 64 GiB (256 requests of 64 segments of 4 MiB), on the vCPU thread
// or on a device's I/O thread (which never takes signals). That work calls
// check() between requests and between slices of one, so it ends at the
// deadline too, from any thread.
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "host/error.h"

namespace instar {

// The run ran out of time; what() is the one line the user sees.
class DeadlineExpired : public Error {
public:
    explicit DeadlineExpired(const std::string& what) : Error(what) {}
};

// "guest did not finish within 2 s (see --timeout)": what the user is told
// when a run's time is up, wherever that is noticed. For an idle limit:
// "guest made no progress for 60 s".
std::string deadline_message(std::chrono::milliseconds timeout, bool idle = false);

// How a run's time is counted: from its start (a total limit), or from
// its last progress (a limit on idleness, for runs as long as their data).
enum class TimeLimit { total, idle };

class Deadline {
public:
    // Without a vCPU (`run` null: device code alone, in unit tests and
    // fuzzers) there is no timer and no signal handler, only the clock.
    Deadline(kvm_run* run, std::chrono::milliseconds timeout, TimeLimit limit = TimeLimit::total);
    ~Deadline();
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    // Any thread: the timer fired, or the clock says the time is up.
    bool expired() const;
    // Throws DeadlineExpired once expired().
    void check() const {
        if (expired()) fail();
    }
    [[noreturn]] void fail() const;

    // Any thread: a request on the output device completed. Under an
    // idle limit the time starts again.
    void note_progress() const;
    // How many times progress was noted (to tell whether a run is moving).
    uint64_t progress_count() const { return progress_.load(std::memory_order_relaxed); }

    std::chrono::steady_clock::time_point end() const;

private:
    std::chrono::milliseconds timeout_;
    TimeLimit limit_;
    mutable std::atomic<int64_t> end_ns_;  // steady_clock, since its epoch
    mutable std::atomic<uint64_t> progress_{0};
    bool timer_ = false;
};

// Calls `alive` at most once per second, and only when progress was noted
// since the last call: what a loop that wakes on the deadline's ticks calls
// each time round.
class Heartbeat {
public:
    Heartbeat(const Deadline& deadline, const std::function<void()>& alive) : deadline_(deadline), alive_(alive) {}
    void beat() {
        if (!alive_) return;
        const uint64_t count = deadline_.progress_count();
        const auto now = std::chrono::steady_clock::now();
        if (count == seen_ || now - last_ < std::chrono::seconds(1)) return;
        seen_ = count;
        last_ = now;
        alive_();
    }

private:
    const Deadline& deadline_;
    const std::function<void()>& alive_;
    uint64_t seen_ = 0;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace instar
