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

// Report layout: kind (u32), guest error code (u32), length (u32), body.
// A result's body: result length (u32), result, then per record list:
// kind (u32), record size (u32), byte count (u32), records.
enum : uint32_t { kReportResult = 1, kReportGuestFailed = 2, kReportError = 3 };
constexpr size_t kReportHeader = 12;

// The most a well-behaved child can send for this run.
size_t report_max(const GuestRun& run) {
    size_t max = 4 + abi::kResultPayloadMax + 4096;
    for (const RecordKind& k : run.record_kinds) max += 12 + size_t(k.max_count) * k.record_size;
    return max;
}

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
        if (body.size() - at < 4) throw Error("sandbox process sent a malformed report");
        std::memcpy(&v, body.data() + at, 4);
        at += 4;
    };
    auto take = [&](uint32_t n) {
        if (body.size() - at < n) throw Error("sandbox process sent a malformed report");
        const auto* p = reinterpret_cast<const uint8_t*>(body.data() + at);
        at += n;
        return p;
    };
    GuestOutput out;
    uint32_t n;
    take32(n);
    if (n > abi::kResultPayloadMax) throw Error("sandbox process sent a malformed report");
    const uint8_t* result = take(n);
    out.result.assign(result, result + n);
    RecordCollector records(uint32_t(run.op), run.record_kinds);
    while (at < body.size()) {
        uint32_t kind, size, bytes;
        take32(kind);
        take32(size);
        take32(bytes);
        if (size == 0 || bytes % size) throw Error("sandbox process sent a malformed report");
        const uint8_t* p = take(bytes);
        try {
            if (bytes) records.add(uint32_t(run.op), kind, size, bytes / size, p);
        } catch (const GuestFault&) {
            throw Error("sandbox process sent a malformed report");
        }
    }
    out.records = records.take();
    return out;
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

[[noreturn]] void child(const GuestRun& run, int out) {
    uint32_t kind = kReportError, code = 0;
    std::string body;
    try {
        body = encode_output(run_guest(run));
        kind = kReportResult;
    } catch (const GuestFailed& e) {
        kind = kReportGuestFailed;
        code = uint32_t(e.code());
        body = e.what();
    } catch (const std::exception& e) {
        body = e.what();
    }
    if (kind != kReportResult && body.size() > 4096) body.resize(4096);
    uint32_t header[3] = {kind, code, uint32_t(body.size())};
    write_all(out, header, sizeof header);
    write_all(out, body.data(), body.size());
    _exit(0);
}

std::string read_report(int fd, size_t max) {
    std::string data;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        data.append(buf, size_t(n));
        if (data.size() > max + kReportHeader) break;
    }
    return data;
}

}  // namespace

GuestOutput run_guest_in_child(const GuestRun& run) {
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
    std::string report = read_report(fds[0], report_max(run));
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
    case kReportResult: return decode_output(run, body);
    case kReportGuestFailed:
        if (header[1] == 0 || header[1] >= abi::kGuestErrorCount) throw Error("sandbox process sent a malformed report");
        throw GuestFailed(abi::GuestError(header[1]), escape_untrusted(body));
    case kReportError: throw Error(escape_untrusted(body));
    default: throw Error("sandbox process sent a malformed report");
    }
}

}  // namespace instar
