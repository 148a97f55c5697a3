// The one sequence every sandboxed operation goes through: build the VM,
// load the operation's guest binary, attach the files as block devices,
// lock the process down with seccomp, run the vCPU under a deadline, and
// return the operation's result once it has been checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "abi/boot_config.h"
#include "abi/hypercall.h"

namespace instar {

struct Disk {
    int fd = -1;
    uint64_t size_bytes = 0;      // exact file length (inputs) or planned length (output)
    uint64_t capacity_bytes = 0;  // the device's size: writes beyond it are refused
    uint32_t block_size = 512;    // writes are aligned to it (output)
    bool allocate_by_writing = false;  // output: WRITE_ZEROES writes real zeroes
    bool io_thread = false;            // output: served on its own thread (see virtio_mmio_block.h)
};

struct GuestRun {
    abi::OpId op;
    std::string op_name;               // selects the guest binary
    std::vector<uint8_t> op_config;    // copied into BootConfig::op_config
    std::vector<Disk> inputs;          // read-only devices 0..n-1
    std::optional<Disk> output;        // the one writable device
    std::vector<int> commit_dirs;      // for the seccomp policy (see seccomp_filter.h)
    std::chrono::milliseconds timeout{60000};
    bool verbose = false;
    std::function<void(const std::string&)> on_log;        // escaped log lines (verbose only)
    std::function<void(uint64_t, uint64_t)> on_progress;   // done, total
};

// Returns the result payload for run.op. Throws GuestFailed when the guest
// reports a failure, Error with a one-line message when it misbehaves,
// crashes or runs out of time. Installs seccomp on the calling process.
std::vector<uint8_t> run_guest(const GuestRun& run);

// The same in a forked child, for a guest run after which this process
// still needs its full rights (e.g. probing a backing file before `create`
// runs its own guest). Errors come back as the same exception types.
std::vector<uint8_t> run_guest_in_child(const GuestRun& run);

// The host's wording for a guest error code.
std::string guest_error_text(abi::GuestError code);

// True when this process can create KVM virtual machines.
bool kvm_available(std::string* why = nullptr);

}  // namespace instar
