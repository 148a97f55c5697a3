#include "host/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "host/error.h"

namespace instar {

Vm::Vm(GuestMemory& memory) {
    kvm_fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd_ < 0) throw_errno("cannot open /dev/kvm", errno);
    try {
        if (ioctl(kvm_fd_, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) throw Error("unsupported KVM API version");
        vm_fd_ = ioctl(kvm_fd_, KVM_CREATE_VM, 0);
        if (vm_fd_ < 0) throw_errno("cannot create a KVM virtual machine", errno);
        kvm_userspace_memory_region region{};
        region.slot = 0;
        region.guest_phys_addr = 0;
        region.memory_size = memory.size();
        region.userspace_addr = reinterpret_cast<uint64_t>(memory.base());
        if (ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0) throw_errno("cannot map guest memory", errno);
        vcpu_fd_ = ioctl(vm_fd_, KVM_CREATE_VCPU, 0);
        if (vcpu_fd_ < 0) throw_errno("cannot create a vCPU", errno);
        int size = ioctl(kvm_fd_, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (size < int(sizeof(kvm_run))) throw_errno("cannot size the vCPU state", errno);
        run_size_ = size_t(size);
        void* p = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd_, 0);
        if (p == MAP_FAILED) throw_errno("cannot map the vCPU state", errno);
        run_ = static_cast<kvm_run*>(p);
    } catch (...) {
        release();
        throw;
    }
}

Vm::~Vm() { release(); }

void Vm::release() {
    if (run_) munmap(run_, run_size_);
    run_ = nullptr;
    for (int* fd : {&vcpu_fd_, &vm_fd_, &kvm_fd_})
        if (*fd >= 0) {
            close(*fd);
            *fd = -1;
        }
}

bool Vm::run() {
    if (ioctl(vcpu_fd_, KVM_RUN, 0) == 0) return true;
    if (errno == EINTR || errno == EAGAIN) return false;
    throw_errno("KVM_RUN failed", errno);
}

}  // namespace instar
