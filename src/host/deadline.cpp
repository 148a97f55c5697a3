#include "host/deadline.h"

#include <signal.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>

namespace instar {
namespace {

kvm_run* volatile g_run = nullptr;
// Set by the handler on the vCPU thread, read by device threads too.
std::atomic<bool> g_expired{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_alarm(int) {
    g_expired.store(true, std::memory_order_relaxed);
    if (kvm_run* run = g_run) run->immediate_exit = 1;
}

}  // namespace

Deadline::Deadline(kvm_run* run, std::chrono::milliseconds timeout)
    : timeout_(timeout), end_(std::chrono::steady_clock::now() + timeout), timer_(run != nullptr) {
    if (!timer_) return;
    g_run = run;
    g_expired.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    if (sigaction(SIGALRM, &sa, nullptr) < 0) throw_errno("cannot install the deadline handler", errno);
    itimerval t{};
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
    if (us <= 0) us = 1;
    t.it_value.tv_sec = us / 1000000;
    t.it_value.tv_usec = us % 1000000;
    if (setitimer(ITIMER_REAL, &t, nullptr) < 0) throw_errno("cannot start the deadline timer", errno);
}

Deadline::~Deadline() {
    if (!timer_) return;
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    g_run = nullptr;
}

bool Deadline::expired() const {
    return (timer_ && g_expired.load(std::memory_order_relaxed)) || std::chrono::steady_clock::now() >= end_;
}

std::string deadline_message(std::chrono::milliseconds timeout) {
    auto ms = timeout.count();
    std::string limit = ms % 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s";
    return "guest did not finish within " + limit + " (see --timeout)";
}

void Deadline::fail() const { throw DeadlineExpired(deadline_message(timeout_)); }

}  // namespace instar
