#include "host/guest_run.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "host/cpu_setup.h"
#include "host/deadline.h"
#include "host/error.h"
#include "host/escape.h"
#include "host/guest_binary.h"
#include "host/guest_fault.h"
#include "host/guest_loader.h"
#include "host/guest_memory.h"
#include "host/guest_messages.h"
#include "host/kvm.h"
#include "host/landlock.h"
#include "host/page_tables.h"
#include "host/ring_registry.h"
#include "host/seccomp_filter.h"
#include "host/virtio_mmio_block.h"

namespace instar {
std::string guest_error_text(abi::GuestError code) {
    using E = abi::GuestError;
    switch (code) {
    case E::none: break;
    case E::bad_config: return "guest rejected its configuration";
    case E::device_missing: return "guest could not use its block devices";
    case E::read_failed: return "read from input device failed";
    case E::write_failed: return "write to output device failed";
    case E::output_too_small: return "output device is too small";
    case E::out_of_memory: return "guest ran out of memory";
    case E::invalid_option: return "invalid option for target format";
    case E::size_out_of_range: return "virtual size out of range for format";
    case E::scratch_exceeded: return "option combination exceeds guest scratch (try a larger cluster size)";
    case E::backing_header_unreadable: return "failed to read backing file header";
    case E::backing_format_unsupported: return "backing file format not supported";
    case E::backing_path_too_long: return "backing file path too long (max 1024 bytes)";
    case E::format_unsupported: return "target format not supported";
    case E::image_invalid: return "image is corrupt or not valid for its format";
    case E::image_format_unknown: return "image format is unknown";
    case E::image_format_mismatch: return "image is not in the requested format";
    case E::unsupported_feature: return "image uses a feature instar does not support";
    case E::internal: return "guest internal error";
    }
    return "guest error";
}

namespace {

const char* exception_name(uint64_t vector) {
    static const char* const kNames[] = {
        "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
        "device not available", "double fault", "coprocessor segment overrun", "invalid TSS",
        "segment not present", "stack-segment fault", "general protection fault", "page fault", "reserved",
        "x87 floating-point error", "alignment check", "machine check", "SIMD floating-point error"};
    return vector < sizeof kNames / sizeof kNames[0] ? kNames[vector] : "exception";
}

std::string hex(uint64_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
}

BlockBackend backend_for(const Disk& d, bool read_only) {
    BlockBackend b;
    b.fd = d.fd;
    b.size_bytes = d.size_bytes;
    b.capacity_sectors = (d.capacity_bytes + abi::virtio::kSectorSize - 1) / abi::virtio::kSectorSize;
    b.block_size = d.block_size;
    b.read_only = read_only;
    b.detect_zeroes = !read_only;
    b.allocate_by_writing = d.allocate_by_writing;
    return b;
}

void write_boot_config(GuestMemory& memory, const GuestRun& run) {
    if (run.inputs.size() > abi::kMaxInputDevices) throw Error("too many input files");
    if (run.op_config.size() > abi::kOpConfigMax) throw Error("operation configuration is too large");
    auto* c = reinterpret_cast<abi::BootConfig*>(memory.at(abi::kBootConfigBase, sizeof(abi::BootConfig)));
    std::memset(c, 0, sizeof *c);
    c->magic = abi::kBootMagic;
    c->abi_version = abi::kAbiVersion;
    c->op = uint32_t(run.op);
    c->verbose = run.verbose ? 1 : 0;
    c->input_count = uint32_t(run.inputs.size());
    c->has_output = run.output ? 1 : 0;
    c->op_config_size = uint32_t(run.op_config.size());
    for (size_t i = 0; i < run.inputs.size(); ++i)
        c->devices[i] = abi::DeviceInfo{run.inputs[i].size_bytes, 1, 1};
    if (run.output) c->devices[abi::kOutputDeviceIndex] = abi::DeviceInfo{run.output->size_bytes, 1, 0};
    if (!run.op_config.empty()) std::memcpy(c->op_config, run.op_config.data(), run.op_config.size());
}

// Runs the vCPU until the guest sends its result or something ends the run.
GuestOutput run_loop(Vm& vm, const GuestMemory& memory, std::vector<std::unique_ptr<VirtioMmioBlock>>& devices,
                              const GuestRun& run, const Deadline& deadline) {
    kvm_run* state = vm.run_state();
    RecordCollector records(uint32_t(run.op), run.record_kinds);
    for (;;) {
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
            GuestMessage m = decode_guest_message(memory, state->io.port, gpa);
            if (auto* log = std::get_if<GuestLog>(&m)) {
                if (run.verbose && run.on_log) run.on_log(escape_untrusted(log->text));
            } else if (auto* p = std::get_if<GuestProgress>(&m)) {
                if (run.on_progress) run.on_progress(p->done, p->total);
            } else if (auto* f = std::get_if<GuestFailure>(&m)) {
                std::string text = guest_error_text(f->code);
                if (run.verbose && !f->detail.empty()) text += " (" + escape_untrusted(f->detail) + ")";
                throw GuestFailed(f->code, text);
            } else if (auto* r = std::get_if<GuestResult>(&m)) {
                if (r->op != uint32_t(run.op)) throw GuestFault("result is for another operation");
                // A batch still on an I/O thread must end well first.
                for (auto& dev : devices)
                    if (dev) dev->settle();
                return GuestOutput{std::move(r->payload), records.take()};
            } else if (auto* list = std::get_if<GuestRecords>(&m)) {
                records.add(*list);
            } else if (auto* e = std::get_if<GuestException>(&m)) {
                std::string text = "guest crashed: " + std::string(exception_name(e->vector)) + " at rip " + hex(e->rip);
                if (e->vector == 14) text += " (address " + hex(e->cr2) + ")";
                throw Error(text);
            }
            break;
        }
        case KVM_EXIT_MMIO: {
            uint64_t addr = state->mmio.phys_addr;
            uint32_t len = state->mmio.len;
            uint64_t index = (addr - abi::kMmioBase) / abi::kMmioWindow;
            if (addr < abi::kMmioBase || index >= abi::kMaxDevices || len == 0 || len > 8)
                throw GuestFault("access to unmapped address " + hex(addr));
            uint64_t offset = addr - abi::mmio_base_of(uint32_t(index));
            VirtioMmioBlock* dev = devices[index].get();
            if (state->mmio.is_write) {
                uint64_t value = 0;
                std::memcpy(&value, state->mmio.data, len);
                if (dev) dev->write(offset, value, len);
            } else {
                uint64_t value = dev ? dev->read(offset, len) : 0;
                std::memcpy(state->mmio.data, &value, len);
            }
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

    // The devices share the run's rings (no buffer may overlap one) and its
    // deadline, which their work checks too; both outlive them.
    RingRegistry rings;
    Deadline deadline(vm.run_state(), run.timeout);
    std::vector<std::unique_ptr<VirtioMmioBlock>> devices(abi::kMaxDevices);
    for (size_t i = 0; i < run.inputs.size(); ++i)
        devices[i] = std::make_unique<VirtioMmioBlock>(memory, rings, deadline, backend_for(run.inputs[i], true));
    if (run.output)
        devices[abi::kOutputDeviceIndex] = std::make_unique<VirtioMmioBlock>(
            memory, rings, deadline, backend_for(*run.output, false), run.output->io_thread);
    // When the run ends, every I/O thread stops before any device goes
    // (VirtioMmioBlock::stop), so no device waits on another's batch.
    struct StopThreadsFirst {
        std::vector<std::unique_ptr<VirtioMmioBlock>>& devices;
        ~StopThreadsFirst() {
            for (auto& dev : devices)
                if (dev) dev->stop();
        }
    } stop_threads_first{devices};

    install_seccomp(SeccompPolicy{vm.vcpu_fd()});
    try {
        return run_loop(vm, memory, devices, run, deadline);
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
