// run_guest in a forked child: the child closes every descriptor the run
// does not use, builds its own VM, confines itself (Landlock where the
// kernel has it, then seccomp) and runs the guest; the parent keeps its
// rights, relays the guest's progress and log lines, and reads back one
// small, bounded report through a pipe, under the run's deadline.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "abi/messages.h"
#include "host/deadline.h"
#include "host/error.h"
#include "host/escape.h"
#include "host/guest_fault.h"
#include "host/guest_run.h"
#include "host/interrupt.h"

namespace instar {
namespace {

// Each message from the child: kind (u32), guest error code (u32), length
// (u32), body. Progress and log messages come while the guest runs; one
// result, guest failure or error ends the stream.
// A result's body: result length (u32), result, then per record list:
// kind (u32), record size (u32), byte count (u32), records.
enum : uint32_t {
    kReportResult = 1,
    kReportGuestFailed = 2,
    kReportError = 3,
    kReportProgress = 4,  // body: done (u64), total (u64)
    kReportLog = 5,       // body: the escaped line
    kReportAlive = 6,     // no body: requests completed (under an idle limit)
};
constexpr size_t kReportHeader = 12;
constexpr size_t kTextMax = 4096;  // errors and log lines

// How long past the guest's own deadline the parent waits before it kills
// the child: enough for the child to notice, tear down and report.
constexpr std::chrono::milliseconds kGrace{500};

// The most a well-behaved child can send in its final report for this run.
size_t report_max(const GuestRun& run) {
    size_t max = 4 + abi::kResultPayloadMax + 4096;
    for (const RecordKind& k : run.record_kinds) max += 12 + size_t(k.max_count) * k.record_size;
    return max;
}

[[noreturn]] void malformed() { throw Error("sandbox process sent a malformed report"); }

void put32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }

std::string encode_output(const GuestOutput& o) {
    std::string body;
    put32(body, uint32_t(o.result.size()));
    body.append(o.result.begin(), o.result.end());
    for (const RecordList& l : o.records) {
        put32(body, l.kind);
        put32(body, l.record_size);
        put32(body, uint32_t(l.bytes.size()));
        body.append(l.bytes.begin(), l.bytes.end());
    }
    return body;
}

// The child's report goes through the same checks as the guest's messages.
GuestOutput decode_output(const GuestRun& run, const std::string& body) {
    size_t at = 0;
    auto take32 = [&](uint32_t& v) {
        if (body.size() - at < 4) malformed();
        std::memcpy(&v, body.data() + at, 4);
        at += 4;
    };
    auto take = [&](uint32_t n) {
        if (body.size() - at < n) malformed();
        const auto* p = reinterpret_cast<const uint8_t*>(body.data() + at);
        at += n;
        return p;
    };
    GuestOutput out;
    uint32_t n;
    take32(n);
    if (n > abi::kResultPayloadMax) malformed();
    const uint8_t* result = take(n);
    out.result.assign(result, result + n);
    RecordCollector records(uint32_t(run.op), run.record_kinds);
    while (at < body.size()) {
        uint32_t kind, size, bytes;
        take32(kind);
        take32(size);
        take32(bytes);
        if (size == 0 || bytes % size) malformed();
        const uint8_t* p = take(bytes);
        try {
            if (bytes) records.add(uint32_t(run.op), kind, size, bytes / size, p);
        } catch (const GuestFault&) {
            malformed();
        }
    }
    out.records = records.take();
    return out;
}

// Text from the child is printed as it came when it is plain printable
// ASCII (what escape_untrusted makes, and every host message); anything
// else is escaped once more, so no byte from the child can reach a
// terminal raw.
std::string checked_text(const std::string& text) {
    bool plain = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    return plain ? text : escape_untrusted(text);
}

void write_all(int fd, const void* data, size_t len) {
    auto* p = static_cast<const uint8_t*>(data);
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= size_t(n);
    }
}

void send(int fd, uint32_t kind, uint32_t code, const void* body, size_t len) {
    uint32_t header[3] = {kind, code, uint32_t(len)};
    std::string message(reinterpret_cast<const char*>(header), sizeof header);
    message.append(static_cast<const char*>(body), len);
    write_all(fd, message.data(), message.size());
}

// Closes every descriptor above stderr that the run does not use (the
// parent's directory and pipe ends, files of earlier steps), so even a
// child that escaped seccomp could not reach them.
void close_other_fds(const GuestRun& run, int report_fd) {
    std::vector<int> keep{report_fd};
    for (const Disk& d : run.inputs) keep.push_back(d.fd);
    if (run.output) keep.push_back(run.output->fd);
    if (run.output && run.output->direct_fd >= 0) keep.push_back(run.output->direct_fd);
    std::sort(keep.begin(), keep.end());
    unsigned first = 3;
    for (int fd : keep) {
        if (fd < int(first)) continue;
        if (unsigned(fd) > first) syscall(SYS_close_range, first, unsigned(fd) - 1, 0u);
        first = unsigned(fd) + 1;
    }
    syscall(SYS_close_range, first, ~0u, 0u);
}

[[noreturn]] void child(const GuestRun& parent_run, int out, pid_t parent, const sigset_t& mask) {
    // Die with the parent, whatever ends it (even SIGKILL): no guest runs on
    // for nobody.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    interrupt_reset_in_child();
    sigprocmask(SIG_SETMASK, &mask, nullptr);
    close_other_fds(parent_run, out);

    uint32_t kind = kReportError, code = 0;
    std::string body;
    try {
        // Progress and log lines go to the parent, which prints them.
        GuestRun run = parent_run;
        if (parent_run.on_progress)
            run.on_progress = [out](uint64_t done, uint64_t total) {
                uint64_t m[2] = {done, total};
                send(out, kReportProgress, 0, m, sizeof m);
            };
        if (parent_run.time_limit == TimeLimit::idle) run.on_alive = [out] { send(out, kReportAlive, 0, "", 0); };
        if (parent_run.on_log)
            run.on_log = [out](const std::string& line) {
                send(out, kReportLog, 0, line.data(), std::min(line.size(), kTextMax));
            };
        body = encode_output(run_guest(run));
        kind = kReportResult;
    } catch (const GuestFailed& e) {
        kind = kReportGuestFailed;
        code = uint32_t(e.code());
        body = e.what();
    } catch (const std::exception& e) {
        body = e.what();
    }
    if (kind != kReportResult && body.size() > kTextMax) body.resize(kTextMax);
    send(out, kind, code, body.data(), body.size());
    _exit(0);
}

// The parent's side: relays progress and log lines, keeps the final
// report, and stops the child at the deadline.
class ChildWatch {
public:
    ChildWatch(const GuestRun& run, pid_t pid, int fd)
        : run_(run), pid_(pid), fd_(fd), max_(report_max(run)),
          deadline_(std::chrono::steady_clock::now() + run.timeout + kGrace) {
        // A pidfd says when the child has ended even if it closed the pipe
        // early; without one (before Linux 5.3) the end of the pipe has to
        // do, and the wait for the exit after it is not bounded.
        pidfd_ = int(syscall(SYS_pidfd_open, pid, 0u));
    }
    ~ChildWatch() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            reap();
        }
        if (pidfd_ >= 0) close(pidfd_);
    }

    // Waits for the final report and the child's end; returns the report
    // (header and body) and the child's wait status.
    std::pair<std::string, int> wait() {
        bool eof = false, exited = pidfd_ < 0;
        while (!eof || !exited) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ -
                                                                              std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                kill(pid_, SIGKILL);
                reap();
                throw DeadlineExpired(deadline_message(run_.timeout, run_.time_limit == TimeLimit::idle));
            }
            pollfd fds[2];
            nfds_t n = 0;
            if (!eof) fds[n++] = {fd_, POLLIN, 0};
            if (!exited) fds[n++] = {pidfd_, POLLIN, 0};
            int r = poll(fds, n, int(std::min<long long>(left.count() + 1, 1000)));
            if (r < 0 && errno != EINTR) throw_errno("cannot wait for the sandbox process", errno);
            for (nfds_t i = 0; r > 0 && i < n; ++i) {
                if (!fds[i].revents) continue;
                if (fds[i].fd == fd_) eof = !read_some();
                else exited = true;
            }
        }
        int status = reap();
        return {final_, status};
    }

private:
    // Reads what is there; false at the end of the stream.
    bool read_some() {
        char buf[65536];
        ssize_t n = read(fd_, buf, sizeof buf);
        if (n < 0) return errno == EINTR || errno == EAGAIN;
        if (n == 0) return false;
        pending_.append(buf, size_t(n));
        take_messages();
        return true;
    }

    void take_messages() {
        while (pending_.size() >= kReportHeader) {
            uint32_t header[3];
            std::memcpy(header, pending_.data(), sizeof header);
            const uint32_t kind = header[0], len = header[2];
            // Nothing may follow the final report, and nothing may be longer
            // than its kind allows.
            if (!final_.empty()) malformed();
            size_t limit = kind == kReportResult ? max_ : kind == kReportProgress ? 16 : kind == kReportAlive ? 0 : kTextMax;
            if (kind < kReportResult || kind > kReportAlive || len > limit) malformed();
            if (pending_.size() < kReportHeader + len) return;
            std::string message = pending_.substr(0, kReportHeader + len);
            pending_.erase(0, kReportHeader + len);
            // Under an idle limit, the child's news that its run moves
            // moves this deadline too.
            if (run_.time_limit == TimeLimit::idle && (kind == kReportProgress || kind == kReportAlive))
                deadline_ = std::chrono::steady_clock::now() + run_.timeout + kGrace;
            if (kind == kReportAlive) {
                // nothing more
            } else if (kind == kReportProgress) {
                if (len != 16) malformed();
                uint64_t m[2];
                std::memcpy(m, message.data() + kReportHeader, sizeof m);
                if (m[0] > m[1]) malformed();
                if (run_.on_progress) run_.on_progress(m[0], m[1]);
            } else if (kind == kReportLog) {
                if (run_.verbose && run_.on_log) run_.on_log(checked_text(message.substr(kReportHeader)));
            } else {
                final_ = std::move(message);
            }
        }
    }

    int reap() {
        // Wait for the end with signals free, then reap and forget the pid
        // in one step, so the interrupt handler never kills a reaped pid.
        siginfo_t info;
        while (waitid(P_PID, id_t(pid_), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
        }
        SignalsHeld held;
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        interrupt_track_child(0);
        pid_ = 0;
        return status;
    }

    const GuestRun& run_;
    pid_t pid_;
    int fd_;
    int pidfd_ = -1;
    size_t max_;
    std::chrono::steady_clock::time_point deadline_;
    std::string pending_, final_;
};

}  // namespace

GuestOutput run_guest_in_child(const GuestRun& run) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) throw_errno("cannot create a pipe", errno);
    const pid_t parent = getpid();
    pid_t pid;
    {
        // A signal between fork and recording the pid would leave the child
        // running; in the child it must not run this process's handler.
        SignalsHeld held;
        pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(run, fds[1], parent, held.previous());
        }
        if (pid > 0) interrupt_track_child(pid);
    }
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        throw_errno("cannot fork", e);
    }
    close(fds[1]);
    std::string report;
    int status = 0;
    try {
        ChildWatch watch(run, pid, fds[0]);
        std::tie(report, status) = watch.wait();
    } catch (...) {
        close(fds[0]);
        throw;
    }
    close(fds[0]);
    if (WIFSIGNALED(status)) {
        // SIGTERM/SIGINT/SIGHUP that reached the child first (or only):
        // handled as if sent to this process.
        interrupted_by(WTERMSIG(status));
        throw Error("sandbox process was killed by signal " + std::to_string(WTERMSIG(status)));
    }

    // The child is our own code, but it ran next to a hostile guest: its
    // report is checked like anything else that crosses the boundary.
    if (report.size() < kReportHeader) throw Error("sandbox process ended without a report");
    uint32_t header[3];
    std::memcpy(header, report.data(), sizeof header);
    std::string body = report.substr(kReportHeader);
    switch (header[0]) {
    case kReportResult: return decode_output(run, body);
    case kReportGuestFailed:
        if (header[1] == 0 || header[1] >= abi::kGuestErrorCount) malformed();
        throw GuestFailed(abi::GuestError(header[1]), checked_text(body));
    case kReportError: throw Error(checked_text(body));
    default: malformed();
    }
}

}  // namespace instar
