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

#include <chrono>
#include <string>

#include "host/error.h"

namespace instar {

// The run ran out of time; what() is the one line the user sees.
class DeadlineExpired : public Error {
public:
    explicit DeadlineExpired(const std::string& what) : Error(what) {}
};

// "guest did not finish within 2 s (see --timeout)": what the user is told
// when a run's time is up, wherever that is noticed.
std::string deadline_message(std::chrono::milliseconds timeout);

class Deadline {
public:
    // Without a vCPU (`run` null: device code alone, in unit tests and
    // fuzzers) there is no timer and no signal handler, only the clock.
    Deadline(kvm_run* run, std::chrono::milliseconds timeout);
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

    std::chrono::steady_clock::time_point end() const { return end_; }

private:
    std::chrono::milliseconds timeout_;
    std::chrono::steady_clock::time_point end_;
    bool timer_ = false;
};

}  // namespace instar
