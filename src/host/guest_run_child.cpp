// run_guest in a forked child: the child builds its own VM, confines itself
// with seccomp and runs the guest; the parent keeps its rights and only
// reads back a small, bounded report through a pipe.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "abi/hypercall.h"
#include "host/error.h"
#include "host/escape.h"
#include "host/guest_fault.h"
#include "host/guest_run.h"

namespace instar {
namespace {

// Report layout: kind (u32), guest error code (u32), length (u32), bytes.
enum : uint32_t { kReportResult = 1, kReportGuestFailed = 2, kReportError = 3 };
constexpr uint32_t kReportMax = abi::kResultPayloadMax + 4096;

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

[[noreturn]] void child(const GuestRun& run, int out) {
    uint32_t kind = kReportError, code = 0;
    std::string body;
    try {
        std::vector<uint8_t> payload = run_guest(run);
        kind = kReportResult;
        body.assign(payload.begin(), payload.end());
    } catch (const GuestFailed& e) {
        kind = kReportGuestFailed;
        code = uint32_t(e.code());
        body = e.what();
    } catch (const std::exception& e) {
        body = e.what();
    }
    if (body.size() > kReportMax) body.resize(kReportMax);
    uint32_t header[3] = {kind, code, uint32_t(body.size())};
    write_all(out, header, sizeof header);
    write_all(out, body.data(), body.size());
    _exit(0);
}

std::string read_report(int fd) {
    std::string data;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        data.append(buf, size_t(n));
        if (data.size() > kReportMax + 12) break;
    }
    return data;
}

}  // namespace

std::vector<uint8_t> run_guest_in_child(const GuestRun& run) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) throw_errno("cannot create a pipe", errno);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        throw_errno("cannot fork", errno);
    }
    if (pid == 0) {
        close(fds[0]);
        child(run, fds[1]);
    }
    close(fds[1]);
    std::string report = read_report(fds[0]);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        throw Error("sandbox process was killed by signal " + std::to_string(WTERMSIG(status)));

    // The child is our own code, but it ran next to a hostile guest: its
    // report is checked like anything else that crosses the boundary.
    uint32_t header[3];
    if (report.size() < sizeof header) throw Error("sandbox process ended without a report");
    std::memcpy(header, report.data(), sizeof header);
    if (header[2] != report.size() - sizeof header) throw Error("sandbox process sent a malformed report");
    std::string body = report.substr(sizeof header);
    switch (header[0]) {
    case kReportResult: return std::vector<uint8_t>(body.begin(), body.end());
    case kReportGuestFailed:
        if (header[1] == 0 || header[1] >= abi::kGuestErrorCount) throw Error("sandbox process sent a malformed report");
        throw GuestFailed(abi::GuestError(header[1]), escape_untrusted(body));
    case kReportError: throw Error(escape_untrusted(body));
    default: throw Error("sandbox process sent a malformed report");
    }
}

}  // namespace instar
