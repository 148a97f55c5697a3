#include "host/deadline.h"

#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

namespace instar {
namespace {

kvm_run* volatile g_run = nullptr;
// Set by the handler on the vCPU thread, read by device threads too.
std::atomic<bool> g_expired{false};
// The end the handler compares with (an idle limit moves it).
const std::atomic<int64_t>* volatile g_end_ns = nullptr;
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
static_assert(std::atomic<int64_t>::is_always_lock_free, "read from a signal handler");

// An idle limit is checked this often: the timer cannot be moved from
// every thread that notes progress, so it ticks, and each tick also lets
// the vCPU loop out to say it is alive.
constexpr std::chrono::milliseconds kIdleTick{1000};

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void on_alarm(int) {
    // clock_gettime is async-signal-safe; steady_clock is CLOCK_MONOTONIC.
    const std::atomic<int64_t>* end = g_end_ns;
    if (end && now_ns() < end->load(std::memory_order_relaxed)) return;  // a tick: KVM_RUN returns EINTR
    g_expired.store(true, std::memory_order_relaxed);
    if (kvm_run* run = g_run) run->immediate_exit = 1;
}

}  // namespace

Deadline::Deadline(kvm_run* run, std::chrono::milliseconds timeout, TimeLimit limit)
    : timeout_(timeout), limit_(limit), end_ns_(now_ns() + std::chrono::nanoseconds(timeout).count()),
      timer_(run != nullptr) {
    if (!timer_) return;
    g_run = run;
    g_end_ns = &end_ns_;
    g_expired.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    if (sigaction(SIGALRM, &sa, nullptr) < 0) throw_errno("cannot install the deadline handler", errno);
    itimerval t{};
    auto first = limit == TimeLimit::idle ? std::min(timeout, kIdleTick) : timeout;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(first).count();
    if (us <= 0) us = 1;
    t.it_value.tv_sec = us / 1000000;
    t.it_value.tv_usec = us % 1000000;
    if (limit == TimeLimit::idle) t.it_interval = t.it_value;
    if (setitimer(ITIMER_REAL, &t, nullptr) < 0) throw_errno("cannot start the deadline timer", errno);
}

Deadline::~Deadline() {
    if (!timer_) return;
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    g_run = nullptr;
    g_end_ns = nullptr;
}

bool Deadline::expired() const {
    return (timer_ && g_expired.load(std::memory_order_relaxed)) || now_ns() >= end_ns_.load(std::memory_order_relaxed);
}

void Deadline::note_progress() const {
    progress_.fetch_add(1, std::memory_order_relaxed);
    if (limit_ == TimeLimit::idle)
        end_ns_.store(now_ns() + std::chrono::nanoseconds(timeout_).count(), std::memory_order_relaxed);
}

std::chrono::steady_clock::time_point Deadline::end() const {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(end_ns_.load(std::memory_order_relaxed)));
}

std::string deadline_message(std::chrono::milliseconds timeout, bool idle) {
    auto ms = timeout.count();
    std::string limit = ms % 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s";
    if (idle) return "guest made no progress for " + limit + " (see --timeout)";
    return "guest did not finish within " + limit + " (see --timeout)";
}

void Deadline::fail() const { throw DeadlineExpired(deadline_message(timeout_, limit_ == TimeLimit::idle)); }

}  // namespace instar
