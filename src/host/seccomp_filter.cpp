#include "host/seccomp_filter.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <memory>

#include "host/error.h"

namespace instar {
namespace {

struct FilterDeleter {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

void allow(scmp_filter_ctx ctx, int syscall, std::initializer_list<scmp_arg_cmp> args = {}) {
    int rc = args.size() == 0 ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscall, 0)
                              : seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, syscall, unsigned(args.size()),
                                                       args.begin());
    if (rc < 0) throw Error("cannot build the seccomp filter");
}

// An empty filter whose default action ends the process.
std::unique_ptr<void, FilterDeleter> new_filter() {
#ifdef INSTAR_SANITIZE_BUILD
    // Sanitizer builds (make test-asan): the sanitizer runtime makes calls
    // of its own (reading /proc for reports); refuse them with EPERM instead
    // of killing, so its reports still come out. Release builds kill.
    std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
#else
    std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS));
#endif
    if (!ctx) throw Error("cannot create the seccomp filter");
    return ctx;
}

}  // namespace

void install_seccomp(const SeccompPolicy& policy) {
    std::unique_ptr<void, FilterDeleter> ctx = new_filter();
    scmp_filter_ctx c = ctx.get();
    // The filter covers every thread of the process, including a block
    // device's I/O thread, which is started before the filter is loaded.
    if (seccomp_attr_set(c, SCMP_FLTATR_CTL_TSYNC, 1) < 0) throw Error("cannot build the seccomp filter");

    // Running the vCPU and reading its registers for error reports.
    if (policy.vcpu_fd >= 0)
        for (unsigned long request :
             {(unsigned long)KVM_RUN, (unsigned long)KVM_GET_REGS, (unsigned long)KVM_GET_SREGS})
            allow(c, SCMP_SYS(ioctl),
                  {SCMP_A0(SCMP_CMP_EQ, unsigned(policy.vcpu_fd)), SCMP_A1(SCMP_CMP_EQ, request)});

    // Serving the op process: its requests (read, under the deadline with
    // poll), and stopping and reaping it.
    if (policy.channel_fd >= 0) {
        allow(c, SCMP_SYS(recvfrom), {SCMP_A0(SCMP_CMP_EQ, unsigned(policy.channel_fd))});
        allow(c, SCMP_SYS(sendto), {SCMP_A0(SCMP_CMP_EQ, unsigned(policy.channel_fd))});
        allow(c, SCMP_SYS(poll));
        allow(c, SCMP_SYS(ppoll));
    }
    if (policy.op_process > 0) {
        allow(c, SCMP_SYS(kill), {SCMP_A0(SCMP_CMP_EQ, unsigned(policy.op_process))});
        allow(c, SCMP_SYS(wait4), {SCMP_A0(SCMP_CMP_EQ, unsigned(policy.op_process))});
    }

    // Moving data between the open files and guest memory (holes found with
    // lseek, punched or preallocated with fallocate, flushes), and the
    // report to the parent (write).
    for (int sc : {SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(write),
                   SCMP_SYS(lseek), SCMP_SYS(fallocate), SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(close)})
        allow(c, sc);

    // Memory for the report; never executable. madvise only to give pages
    // back: glibc frees a finished thread's stack and trims its heap with
    // MADV_DONTNEED.
    allow(c, SCMP_SYS(brk));
    allow(c, SCMP_SYS(munmap));
    allow(c, SCMP_SYS(mremap));
    allow(c, SCMP_SYS(mmap), {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
    allow(c, SCMP_SYS(mprotect), {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
    allow(c, SCMP_SYS(madvise), {SCMP_A2(SCMP_CMP_EQ, MADV_DONTNEED)});

    // Time, signals (the deadline), waiting for the I/O thread, sleeping
    // while convert -r holds a write back, and leaving.
    for (int sc : {SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(setitimer), SCMP_SYS(rt_sigaction),
                   SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(futex), SCMP_SYS(clock_nanosleep),
                   SCMP_SYS(nanosleep), SCMP_SYS(exit), SCMP_SYS(exit_group)})
        allow(c, sc);

#ifdef INSTAR_SANITIZE_BUILD
    // ASan queries the signal stack before every noreturn call (_exit,
    // throw) and its thread id; harmless, and only in sanitizer builds.
    for (int sc : {SCMP_SYS(sigaltstack), SCMP_SYS(gettid), SCMP_SYS(getpid)}) allow(c, sc);
    // Its allocator marks new regions (strace of a sandboxed run).
    for (int advice : {MADV_NOHUGEPAGE, MADV_DONTDUMP}) allow(c, SCMP_SYS(madvise), {SCMP_A2(SCMP_CMP_EQ, advice)});
#endif

    if (seccomp_load(c) < 0) throw Error("cannot install the seccomp filter");
}

void install_op_process_seccomp(int channel_fd) {
    std::unique_ptr<void, FilterDeleter> ctx = new_filter();
    scmp_filter_ctx c = ctx.get();
    // Like a guest in the VM, which has only its port writes and register
    // accesses: a request and its reply on the socket, then _exit.
    allow(c, SCMP_SYS(read), {SCMP_A0(SCMP_CMP_EQ, unsigned(channel_fd))});
    allow(c, SCMP_SYS(write), {SCMP_A0(SCMP_CMP_EQ, unsigned(channel_fd))});
    allow(c, SCMP_SYS(exit));
    allow(c, SCMP_SYS(exit_group));
    if (seccomp_load(c) < 0) throw Error("cannot install the seccomp filter");
    // Never released once loaded: free() may hand memory back with brk or
    // munmap, which this filter forbids.
    (void)ctx.release();
}

}  // namespace instar
