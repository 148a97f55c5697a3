#include "host/guest_devices.h"

#include <cstring>

#include "abi/boot_config.h"
#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "host/error.h"
#include "host/stack_guard.h"

namespace instar {
namespace {

BlockBackend backend_for(const Disk& d, bool read_only) {
    BlockBackend b;
    b.fd = d.fd;
    b.size_bytes = d.size_bytes;
    b.capacity_sectors = (d.capacity_bytes + abi::virtio::kSectorSize - 1) / abi::virtio::kSectorSize;
    b.block_size = d.block_size;
    b.read_only = read_only;
    b.detect_zeroes = !read_only && !d.write_zero_blocks;
    b.allocate_by_writing = d.allocate_by_writing;
    if (!read_only) b.throttle = WriteThrottle(d.write_rate);
    if (!read_only && d.direct_fd >= 0) {
        b.direct_fd = d.direct_fd;
        b.direct_offset_align = d.direct_offset_align;
        b.direct_memory_align = d.direct_memory_align;
    }
    return b;
}

}  // namespace

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
    // Read by the micro-VM's third-party code (abi::GuestThreadBlock); the
    // process platform's code checks glibc's own canary instead.
    c->thread_block.stack_guard = new_stack_guard();
}

GuestDevices::GuestDevices(const GuestMemory& memory, const Deadline& deadline, const GuestRun& run)
    : devices_(abi::kMaxDevices) {
    if (run.inputs.size() > abi::kMaxInputDevices) throw Error("too many input files");
    for (size_t i = 0; i < run.inputs.size(); ++i)
        devices_[i] = std::make_unique<VirtioMmioBlock>(memory, rings_, deadline, backend_for(run.inputs[i], true));
    if (run.output)
        devices_[abi::kOutputDeviceIndex] = std::make_unique<VirtioMmioBlock>(
            memory, rings_, deadline, backend_for(*run.output, false), run.output->io_thread);
}

GuestDevices::~GuestDevices() {
    for (auto& dev : devices_)
        if (dev) dev->stop();
}

void GuestDevices::settle() {
    for (auto& dev : devices_)
        if (dev) dev->settle();
}

}  // namespace instar
