#include "host/guest_run.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/memory_map.h"
#include "host/cpu_setup.h"
#include "host/deadline.h"
#include "host/error.h"
#include "host/guest_binary.h"
#include "host/guest_devices.h"
#include "host/guest_exits.h"
#include "host/guest_fault.h"
#include "host/guest_loader.h"
#include "host/guest_memory.h"
#include "host/kvm.h"
#include "host/landlock.h"
#include "host/page_tables.h"
#include "host/process_sandbox.h"
#include "host/sandbox_kind.h"
#include "host/seccomp_filter.h"

namespace instar {
namespace {

// Runs the vCPU until the guest sends its result or something ends the run.
GuestOutput run_loop(Vm& vm, GuestExits& exits, const Deadline& deadline, Heartbeat& heartbeat) {
    kvm_run* state = vm.run_state();
    for (;;) {
        heartbeat.beat();
        if (!vm.run()) {
            deadline.check();
            continue;  // another signal: carry on
        }
        switch (state->exit_reason) {
        case KVM_EXIT_IO: {
            if (state->io.direction != KVM_EXIT_IO_OUT || state->io.size != 4 || state->io.count != 1)
                throw GuestFault("unexpected I/O port access");
            uint32_t gpa;
            std::memcpy(&gpa, reinterpret_cast<uint8_t*>(state) + state->io.data_offset, 4);
            if (auto output = exits.hypercall(state->io.port, gpa)) return std::move(*output);
            break;
        }
        case KVM_EXIT_MMIO: {
            uint32_t len = state->mmio.len;
            if (len == 0 || len > 8) throw GuestFault("access to unmapped address " + hex(state->mmio.phys_addr));
            uint64_t value = 0;
            if (state->mmio.is_write) std::memcpy(&value, state->mmio.data, len);
            value = exits.mmio(state->mmio.phys_addr, state->mmio.is_write, len, value);
            if (!state->mmio.is_write) std::memcpy(state->mmio.data, &value, len);
            break;
        }
        case KVM_EXIT_HLT:
            throw Error("guest stopped without a result");
        case KVM_EXIT_SHUTDOWN:
            throw Error("guest crashed: triple fault");
        case KVM_EXIT_FAIL_ENTRY:
            throw Error("guest could not be started (hardware entry failure " +
                        hex(state->fail_entry.hardware_entry_failure_reason) + ")");
        case KVM_EXIT_INTERNAL_ERROR: {
            kvm_regs regs{};
            ioctl(vm.vcpu_fd(), KVM_GET_REGS, &regs);
            throw Error("guest crashed: KVM internal error " + std::to_string(state->internal.suberror) + " at rip " +
                        hex(regs.rip));
        }
        default:
            throw Error("guest stopped unexpectedly (KVM exit " + std::to_string(state->exit_reason) + ")");
        }
    }
}

}  // namespace

GuestOutput run_guest(const GuestRun& run) {
    if (sandbox_kind() == SandboxKind::process) return run_guest_process(run);
    std::vector<uint8_t> binary = load_guest_binary(run.op_name);
    GuestMemory memory(abi::kGuestRamSize);
    Vm vm(memory);
    // Every file this run uses is open now: from here on, neither this
    // thread nor one it starts may open another (Landlock, where present).
    restrict_to_open_files();

    LoadedImage image = load_guest_image(memory, binary, run.op);
    std::vector<PageMapping> mappings = guest_page_mappings(image);
    build_page_tables(memory.base(), memory.size(), mappings);
    memory.set_dma_ranges(dma_ranges(mappings));
    write_descriptor_tables(memory);
    write_boot_config(memory, run);
    setup_long_mode_cpu(vm, image.entry);

    // The devices check the run's deadline in their work too.
    Deadline deadline(vm.run_state(), run.timeout, run.time_limit);
    Heartbeat heartbeat(deadline, run.on_alive);
    GuestDevices devices(memory, deadline, run);
    GuestExits exits(memory, devices, run);

    install_seccomp(SeccompPolicy{vm.vcpu_fd()});
    try {
        return run_loop(vm, exits, deadline, heartbeat);
    } catch (const GuestFault& f) {
        throw Error(std::string("guest misbehaved: ") + f.what());
    }
}

bool kvm_available(std::string* why) {
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (why) *why = std::string("/dev/kvm: ") + std::strerror(errno);
        return false;
    }
    close(fd);
    return true;
}

}  // namespace instar
