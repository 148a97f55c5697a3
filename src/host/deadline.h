// Ends a guest that runs too long. A wall-clock timer raises SIGALRM; the
// handler sets kvm_run.immediate_exit, so KVM_RUN returns whether the signal
// lands during the run or just before it.
#pragma once

#include <linux/kvm.h>

#include <chrono>

namespace instar {

class Deadline {
public:
    Deadline(kvm_run* run, std::chrono::milliseconds timeout);
    ~Deadline();
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    bool expired() const;
};

}  // namespace instar
