// A KVM virtual machine with one vCPU and one slot of RAM. Owns the file
// descriptors; nothing here knows what runs inside.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "host/guest_memory.h"

namespace instar {

class Vm {
public:
    explicit Vm(GuestMemory& memory);
    ~Vm();
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    int kvm_fd() const { return kvm_fd_; }
    int vcpu_fd() const { return vcpu_fd_; }
    kvm_run* run_state() const { return run_; }

    // KVM_RUN once; false when interrupted by a signal (the deadline).
    bool run();

private:
    void release();

    int kvm_fd_ = -1;
    int vm_fd_ = -1;
    int vcpu_fd_ = -1;
    kvm_run* run_ = nullptr;
    size_t run_size_ = 0;
};

}  // namespace instar
