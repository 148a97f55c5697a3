// The one sequence every sandboxed operation goes through: build the VM,
// load the operation's guest binary, attach the files as block devices,
// lock the process down with seccomp, run the vCPU under a deadline, and
// return the operation's result once it has been checked.
#pragma once

#include <chrono>
#include <cstring>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "host/deadline.h"
#include "abi/boot_config.h"
#include "abi/messages.h"
#include "host/error.h"
#include "host/guest_records.h"

namespace instar {

struct Disk {
    int fd = -1;
    uint64_t size_bytes = 0;      // exact file length (inputs) or planned length (output)
    uint64_t capacity_bytes = 0;  // the device's size: writes beyond it are refused
    uint32_t block_size = 512;    // writes are aligned to it (output)
    bool allocate_by_writing = false;  // output: WRITE_ZEROES writes real zeroes
    bool io_thread = false;            // output: served on its own thread (see virtio_mmio_block.h)
    // Output: all-zero blocks are written like any other, where the guest
    // decides what is left sparse (convert's -S); otherwise they are left
    // as holes of a new, empty output.
    bool write_zero_blocks = false;
    // Output: the file opened again with O_DIRECT, and its alignments
    // (BlockBackend::direct_fd); -1 for none.
    int direct_fd = -1;
    uint32_t direct_offset_align = 0;
    uint32_t direct_memory_align = 0;
    // Output: writes held to this many bytes a second (convert -r); 0: none.
    uint64_t write_rate = 0;
};

struct GuestRun {
    abi::OpId op;
    std::string op_name;               // selects the guest binary
    std::vector<uint8_t> op_config;    // copied into BootConfig::op_config
    std::vector<Disk> inputs;          // read-only devices 0..n-1
    std::optional<Disk> output;        // the one writable device
    std::vector<RecordKind> record_kinds;  // the lists the op may send as records
    std::chrono::milliseconds timeout{60000};
    // total: the run ends `timeout` after it starts. idle: it ends when
    // `timeout` passes without a request completed on the output device
    // (convert, whose length follows its data, without an explicit
    // --timeout).
    TimeLimit time_limit = TimeLimit::total;
    bool verbose = false;
    std::function<void(const std::string&)> on_log;        // escaped log lines (verbose only)
    std::function<void(uint64_t, uint64_t)> on_progress;   // done, total
    // Under an idle limit, about once a second while requests complete:
    // how run_guest_in_child's watcher knows the run is moving.
    std::function<void()> on_alive;
};

// What the guest answered: the op's result struct, and the records it sent
// before it, one list per kind in run.record_kinds.
struct GuestOutput {
    std::vector<uint8_t> result;
    std::vector<RecordList> records;

    // The result as the op's struct; a result of another size is the
    // guest misbehaving.
    template <typename T>
    T result_as(const char* op_name) const {
        if (result.size() != sizeof(T))
            throw Error(std::string("guest misbehaved: ") + op_name + " result has the wrong size");
        T t;
        std::memcpy(&t, result.data(), sizeof t);
        return t;
    }
};

// Returns the checked answer for run.op. Throws GuestFailed when the guest
// reports a failure, Error with a one-line message when it misbehaves,
// crashes or runs out of time. Confines the calling process for good
// (Landlock and seccomp): only run_guest_in_child's child calls it.
GuestOutput run_guest(const GuestRun& run);

// How every subcommand runs a guest: run_guest in a forked child that holds
// only the run's files, while this process keeps its rights (to commit or
// discard the output, open more files, print). The child's progress and
// log lines reach run.on_progress and run.on_log here; errors come back as
// the same exception types. The child is killed (and the run fails with the
// deadline's message) if it has not ended shortly after run.timeout.
GuestOutput run_guest_in_child(const GuestRun& run);

// The host's wording for a guest error code.
std::string guest_error_text(abi::GuestError code);

// True when this process can create KVM virtual machines.
bool kvm_available(std::string* why = nullptr);

}  // namespace instar
