// The process sandbox against hostile op processes: whatever the op
// process does, the run ends with one line (its result, or why it failed)
// within the deadline, and the op process can do nothing but talk on its
// channel.
#include "host/process_sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "abi/memory_map.h"
#include "abi/messages.h"
#include "abi/process_channel.h"
#include "host/deadline.h"
#include "host/error.h"
#include "support/in_child.h"

namespace instar {
namespace {

using namespace std::chrono_literals;

// The run's outcome, from a child (run_guest_process confines its caller):
// "ok:<result bytes>" or the error's text.
std::string outcome(OpProcessBody body, std::chrono::milliseconds timeout = 5000ms,
                    TimeLimit limit = TimeLimit::total) {
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return "pipe failed";
    int status = testing::in_child([&] {
        close(pipe_fds[0]);
        GuestRun run;
        run.op = abi::OpId::probe;
        run.op_name = "probe";
        run.timeout = timeout;
        run.time_limit = limit;
        std::string text;
        try {
            GuestOutput out = run_guest_process(run, body);
            text = "ok:" + std::string(out.result.begin(), out.result.end());
        } catch (const std::exception& e) {
            text = e.what();
        }
        (void)!write(pipe_fds[1], text.data(), text.size());
        return 0;
    });
    close(pipe_fds[1]);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
    close(pipe_fds[0]);
    if (!testing::exited_with(status, 0)) return "host side died";
    return text;
}

uint64_t ask(int channel, abi::ProcessCall call, uint32_t len, uint64_t addr, uint64_t value) {
    abi::ProcessRequest r{uint32_t(call), len, addr, value};
    abi::ProcessReply reply{};
    if (write(channel, &r, sizeof r) != ssize_t(sizeof r) || read(channel, &reply, sizeof reply) != sizeof reply)
        _exit(0);
    return reply.value;
}

void* ram(uint64_t gpa) { return reinterpret_cast<void*>(abi::kProcessRamBase + gpa); }

TEST(ProcessSandboxTest, AResultInGuestRamIsTheRunsOutput) {
    EXPECT_EQ(outcome([](int channel) {
                  auto* m = static_cast<abi::ResultMessage*>(ram(abi::kHeapBase));
                  m->header = abi::MessageHeader{abi::kMessageMagic, sizeof *m};
                  m->op = uint32_t(abi::OpId::probe);
                  m->payload_size = 2;
                  std::memcpy(m->payload, "hi", 2);
                  ask(channel, abi::ProcessCall::hypercall, 0, abi::hypercall_port(abi::Hypercall::result),
                      abi::kHeapBase);
              }),
              "ok:hi");
}

TEST(ProcessSandboxTest, OpeningAFileKillsTheOpProcess) {
    EXPECT_EQ(outcome([](int) { (void)!open("/etc/passwd", O_RDONLY); }), "guest crashed: forbidden system call");
}

TEST(ProcessSandboxTest, WritingAnythingButTheChannelKillsIt) {
    // Descriptor 1 was closed; had it been reused, the filter still refuses.
    EXPECT_EQ(outcome([](int) { (void)!write(1, "x", 1); }), "guest crashed: forbidden system call");
}

TEST(ProcessSandboxTest, TheBootConfigIsReadOnly) {
    EXPECT_EQ(outcome([](int) { *static_cast<volatile uint32_t*>(ram(abi::kBootConfigBase)) = 1; }),
              "guest crashed: segmentation fault");
}

TEST(ProcessSandboxTest, RamOutsideStackAndHeapIsNotMapped) {
    EXPECT_EQ(outcome([](int) { (void)*static_cast<volatile uint8_t*>(ram(abi::kImageBase)); }),
              "guest crashed: segmentation fault");
}

TEST(ProcessSandboxTest, EndingWithoutAResultIsReported) {
    EXPECT_EQ(outcome([](int) {}), "guest stopped without a result");
}

TEST(ProcessSandboxTest, AMalformedRequestEndsTheRun) {
    EXPECT_EQ(outcome([](int channel) {
                  char junk[10] = {};
                  (void)!write(channel, junk, sizeof junk);
                  char reply[8];
                  (void)!read(channel, reply, sizeof reply);
              }),
              "guest misbehaved: malformed request from the op process");
}

TEST(ProcessSandboxTest, AnUnknownCallEndsTheRun) {
    EXPECT_EQ(outcome([](int channel) { ask(channel, abi::ProcessCall(99), 4, 0, 0); }),
              "guest misbehaved: malformed request from the op process");
}

TEST(ProcessSandboxTest, AnAccessOutsideEveryDeviceEndsTheRun) {
    EXPECT_EQ(outcome([](int channel) { ask(channel, abi::ProcessCall::mmio_read, 4, 0x1000, 0); }),
              "guest misbehaved: access to unmapped address 0x1000");
}

TEST(ProcessSandboxTest, AMessageOutsideRamEndsTheRun) {
    std::string text = outcome([](int channel) {
        ask(channel, abi::ProcessCall::hypercall, 0, abi::hypercall_port(abi::Hypercall::log), abi::kGuestRamSize);
    });
    EXPECT_EQ(text.rfind("guest misbehaved: ", 0), 0u) << text;
}

TEST(ProcessSandboxTest, ASpinningOpProcessEndsAtTheDeadline) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(outcome([](int) {
                  for (;;) asm volatile("");
              },
                      300ms),
              deadline_message(300ms));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(ProcessSandboxTest, AFloodOfRequestsEndsAtTheDeadline) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(outcome([](int channel) {
                  for (;;) ask(channel, abi::ProcessCall::mmio_read, 4, abi::kMmioBase, 0);
              },
                      300ms),
              deadline_message(300ms));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

// Under an idle limit (convert without --timeout) only requests completed
// on the output count as progress: spinning, and asking the host things
// without writing anything, end the run when the limit passes.
TEST(ProcessSandboxTest, IdleLimitStopsASpinningOpProcess) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(outcome([](int) {
                  for (;;) asm volatile("");
              },
                      300ms, TimeLimit::idle),
              deadline_message(300ms, true));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
}

TEST(ProcessSandboxTest, IdleLimitStopsAFloodOfRequestsThatWriteNothing) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(outcome([](int channel) {
                  for (;;) ask(channel, abi::ProcessCall::mmio_read, 4, abi::kMmioBase, 0);
              },
                      300ms, TimeLimit::idle),
              deadline_message(300ms, true));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2500ms);
}

}  // namespace
}  // namespace instar
