#include "host/deadline.h"

#include <signal.h>
#include <sys/time.h>

#include <cerrno>

#include "host/error.h"

namespace instar {
namespace {

kvm_run* volatile g_run = nullptr;
volatile sig_atomic_t g_expired = 0;

void on_alarm(int) {
    g_expired = 1;
    if (kvm_run* run = g_run) run->immediate_exit = 1;
}

}  // namespace

Deadline::Deadline(kvm_run* run, std::chrono::milliseconds timeout) {
    g_run = run;
    g_expired = 0;
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
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    g_run = nullptr;
}

bool Deadline::expired() const { return g_expired != 0; }

}  // namespace instar
