#include "host/process_sandbox.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>

#include "abi/memory_map.h"
#include "abi/process_channel.h"
#include "guest/process/process_entry.h"
#include "host/deadline.h"
#include "host/error.h"
#include "host/guest_devices.h"
#include "host/guest_exits.h"
#include "host/guest_fault.h"
#include "host/guest_memory.h"
#include "host/landlock.h"
#include "host/seccomp_filter.h"

namespace instar {
namespace {

class Descriptor {
public:
    explicit Descriptor(int fd) : fd_(fd) {}
    ~Descriptor() { reset(); }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

private:
    int fd_;
};

// Guest RAM as the op process may touch it: the memory map's stack and
// heap read-write, the boot config read-only, everything else (what the VM
// keeps for page tables, descriptor tables and the binary, and the guard
// pages around the stack) not at all, so a runaway pointer or stack faults
// as it would in the VM.
bool protect_ram() {
    struct Region {
        uint64_t start, end;
        int prot;
    };
    const uint64_t config_end = (abi::kBootConfigBase + abi::kBootConfigSize + abi::kPageSize - 1) / abi::kPageSize *
                                abi::kPageSize;
    const Region regions[] = {
        {0, abi::kBootConfigBase, PROT_NONE},
        {abi::kBootConfigBase, config_end, PROT_READ},
        {config_end, abi::kStackBase, PROT_NONE},
        {abi::kStackTop, abi::kHeapBase, PROT_NONE},
        {abi::kHeapEnd, abi::kGuestRamSize, PROT_NONE},
    };
    for (const Region& r : regions)
        if (mprotect(reinterpret_cast<void*>(abi::kProcessRamBase + r.start), r.end - r.start, r.prot) != 0)
            return false;
    return true;
}

// The forked op process: gives up everything but its socket, then runs the
// op. The host serves it; it never returns.
[[noreturn]] void op_process(int channel, pid_t host, abi::OpId op, OpProcessBody body) {
    // Dies with the host, whatever ends it: no op runs on for nobody.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != host) _exit(1);
    // Every descriptor but the socket, the standard ones included: the op
    // never prints.
    if (channel > 0) syscall(SYS_close_range, 0u, unsigned(channel) - 1, 0u);
    syscall(SYS_close_range, unsigned(channel) + 1, ~0u, 0u);
    // The process is a copy of instar: the environment may carry an
    // operator's credentials, which the op has no business with.
    clearenv();
    prctl(PR_SET_DUMPABLE, 0);
    if (!protect_ram()) _exit(1);
    try {
        install_op_process_seccomp(channel);
    } catch (...) {
        _exit(1);
    }
    if (body) {
        body(channel);
        _exit(0);
    }
    guest::process::enter(channel, uint32_t(op));
}

// The op process, stopped and reaped when the run ends however it ends.
class OpProcess {
public:
    explicit OpProcess(pid_t pid) : pid_(pid) {}
    ~OpProcess() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    OpProcess(const OpProcess&) = delete;
    OpProcess& operator=(const OpProcess&) = delete;
    pid_t pid() const { return pid_; }

    // It closed the channel: how it ended, as the user is told.
    std::string ended() {
        int status = 0;
        pid_t r;
        do r = waitpid(pid_, &status, 0);
        while (r < 0 && errno == EINTR);
        pid_ = -1;
        if (r < 0 || !WIFSIGNALED(status)) return "guest stopped without a result";
        return "guest crashed: " + signal_text(WTERMSIG(status));
    }

private:
    // Not strsignal(): it may read locale files, which the filter forbids.
    static std::string signal_text(int sig) {
        switch (sig) {
        case SIGSEGV: return "segmentation fault";
        case SIGBUS: return "bus error";
        case SIGILL: return "invalid instruction";
        case SIGFPE: return "arithmetic exception";
        case SIGSYS: return "forbidden system call";
        case SIGABRT: return "aborted";
        case SIGKILL: return "killed";
        default: return "signal " + std::to_string(sig);
        }
    }
    pid_t pid_;
};

// Serves the op process's requests until its result, its failure, its end
// or the deadline.
GuestOutput serve(int channel, GuestExits& exits, const Deadline& deadline, OpProcess& op, Heartbeat& heartbeat) {
    for (;;) {
        heartbeat.beat();
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.end() -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) deadline.fail();
        pollfd p{channel, POLLIN, 0};
        // At most a second at a time: an idle limit's end moves.
        int r = poll(&p, 1, int(std::min<long long>(left.count() + 1, 1000)));
        if (r < 0 && errno != EINTR) throw_errno("cannot wait for the op process", errno);
        if (r <= 0) continue;

        // One byte more than a request: a longer message is malformed, not
        // cut to size.
        unsigned char buf[sizeof(abi::ProcessRequest) + 1];
        ssize_t n = recv(channel, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) throw Error(op.ended());
        if (n != ssize_t(sizeof(abi::ProcessRequest))) throw GuestFault("malformed request from the op process");
        abi::ProcessRequest req;
        std::memcpy(&req, buf, sizeof req);

        abi::ProcessReply reply{0};
        switch (abi::ProcessCall(req.call)) {
        case abi::ProcessCall::mmio_read:
            if (req.len != 4) throw GuestFault("malformed request from the op process");
            reply.value = exits.mmio(req.addr, false, 4, 0);
            break;
        case abi::ProcessCall::mmio_write:
            if (req.len != 4 || req.value > UINT32_MAX) throw GuestFault("malformed request from the op process");
            exits.mmio(req.addr, true, 4, req.value);
            break;
        case abi::ProcessCall::hypercall:
            if (req.addr > UINT16_MAX) throw GuestFault("malformed request from the op process");
            if (auto output = exits.hypercall(uint16_t(req.addr), req.value)) return std::move(*output);
            break;
        default:
            throw GuestFault("malformed request from the op process");
        }
        // MSG_NOSIGNAL: an op process gone meanwhile is seen as the end of
        // the channel on the next turn, not as SIGPIPE here.
        if (send(channel, &reply, sizeof reply, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
            throw_errno("cannot answer the op process", errno);
    }
}

}  // namespace

GuestOutput run_guest_process(const GuestRun& run, OpProcessBody body) {
    if (!body && !guest::process::has_op(uint32_t(run.op)))
        throw Error("operation '" + run.op_name + "' has no build for the process sandbox");
    GuestMemory memory(abi::kGuestRamSize, GuestMemory::SharedAt{abi::kProcessRamBase});
    write_boot_config(memory, run);
    // What the op process may hand a device: its stack and its heap.
    memory.set_dma_ranges({{abi::kStackBase, abi::kStackTop}, {abi::kHeapBase, abi::kHeapEnd}});

    int ends[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0)
        throw_errno("cannot create the op process's channel", errno);
    Descriptor host_end(ends[0]), op_end(ends[1]);
    // Every file this run uses is open now; the op process, forked next,
    // inherits the restriction too (Landlock, where present).
    restrict_to_open_files();
    // The clock starts before the op process does.
    Deadline deadline(nullptr, run.timeout, run.time_limit);
    Heartbeat heartbeat(deadline, run.on_alive);

    const pid_t host = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw_errno("cannot start the op process", errno);
    if (pid == 0) op_process(op_end.get(), host, run.op, body);
    OpProcess op(pid);
    op_end.reset();

    // After the fork: a device's I/O thread is not copied into the op
    // process.
    GuestDevices devices(memory, deadline, run);
    GuestExits exits(memory, devices, run);
    install_seccomp(SeccompPolicy{-1, host_end.get(), pid});
    try {
        return serve(host_end.get(), exits, deadline, op, heartbeat);
    } catch (const GuestFault& f) {
        throw Error(std::string("guest misbehaved: ") + f.what());
    }
}

}  // namespace instar
