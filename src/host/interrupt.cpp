#include "host/interrupt.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace instar {
namespace {

constexpr int kSignals[] = {SIGHUP, SIGINT, SIGTERM};
constexpr const char* kNames[] = {"SIGHUP", "SIGINT", "SIGTERM"};
constexpr size_t kCount = sizeof kSignals / sizeof kSignals[0];

// Everything the handler reads is written before the handler can see it
// (the flags last, behind a signal fence), and only with the signals held
// where a half-written value would matter.
volatile sig_atomic_t g_installed = 0;
volatile sig_atomic_t g_handled[kCount] = {};  // 0 where the signal was ignored at start
volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_temp_dir = -1;
volatile sig_atomic_t g_has_temp = 0;
volatile sig_atomic_t g_owner = 0;
char g_temp_name[256];
char g_lines[kCount][160];
size_t g_line_lengths[kCount];
struct sigaction g_previous[kCount];

int index_of(int sig) {
    for (size_t i = 0; i < kCount; ++i)
        if (kSignals[i] == sig) return int(i);
    return -1;
}

[[noreturn]] void finish(int sig, int index) {
    pid_t child = g_child;
    if (child > 0) {
        kill(child, SIGKILL);
        while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    if (g_has_temp) unlinkat(g_temp_dir, g_temp_name, 0);
    ssize_t n = write(STDERR_FILENO, g_lines[index], g_line_lengths[index]);
    (void)n;
    _exit(128 + sig);
}

void on_signal(int sig) {
    int index = index_of(sig);
    // Only the process that installed the handler cleans up; a child that
    // somehow still has it just ends as the signal would have ended it.
    if (index < 0 || getpid() != pid_t(g_owner)) _exit(128 + sig);
    finish(sig, index);
}

void restore_previous() {
    for (size_t i = 0; i < kCount; ++i)
        if (g_handled[i]) sigaction(kSignals[i], &g_previous[i], nullptr);
}

}  // namespace

InterruptHandling::InterruptHandling(const char* command) {
    SignalsHeld held;
    g_owner = getpid();
    for (size_t i = 0; i < kCount; ++i) {
        int n = std::snprintf(g_lines[i], sizeof g_lines[i], "instar: %s: interrupted by %s\n", command, kNames[i]);
        g_line_lengths[i] = n < 0 ? 0 : std::min(size_t(n), sizeof g_lines[i] - 1);
        sigaction(kSignals[i], nullptr, &g_previous[i]);
        // A signal ignored when we started (nohup, a background job's
        // SIGINT) stays ignored, as the one who started us asked.
        g_handled[i] = g_previous[i].sa_handler != SIG_IGN;
        if (!g_handled[i]) continue;
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (int s : kSignals) sigaddset(&sa.sa_mask, s);
        sigaction(kSignals[i], &sa, nullptr);
    }
    g_installed = 1;
}

InterruptHandling::~InterruptHandling() { interrupt_output_committed(); }

SignalsHeld::SignalsHeld() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kSignals) sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, &previous_);
}

SignalsHeld::~SignalsHeld() { sigprocmask(SIG_SETMASK, &previous_, nullptr); }

void interrupt_track_child(pid_t pid) { g_child = pid; }

void interrupt_reset_in_child() {
    if (g_installed) restore_previous();
    g_installed = 0;
    g_child = 0;
    g_has_temp = 0;
}

void interrupt_track_temp(int dir_fd, const char* name) {
    g_has_temp = 0;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    size_t n = std::min(std::strlen(name), sizeof g_temp_name - 1);
    std::memcpy(g_temp_name, name, n);
    g_temp_name[n] = '\0';
    g_temp_dir = dir_fd;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    g_has_temp = 1;
}

void interrupt_forget_temp() { g_has_temp = 0; }

void interrupt_output_committed() {
    if (!g_installed) return;
    SignalsHeld held;
    restore_previous();
    g_installed = 0;
}

void interrupted_by(int sig) {
    int index = index_of(sig);
    if (!g_installed || index < 0 || !g_handled[index]) return;
    SignalsHeld held;  // the handler must not run on top of this
    g_child = 0;       // already reaped by the caller
    finish(sig, index);
}

}  // namespace instar
