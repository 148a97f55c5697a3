// The sandbox child's seccomp filter: what the child needs works, and the
// rights that moved to the parent (naming, removing, chmod/chown, stat and
// truncating files) and anything else are refused. Release builds kill the
// process (SIGSYS); sanitizer builds answer EPERM, so their reports survive.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "host/seccomp_filter.h"
#include "support/in_child.h"
#include "support/temp_dir.h"

namespace instar {
namespace {

using testing::exited_with;
using testing::in_child;

bool refused(int status) {
#ifdef INSTAR_SANITIZE_BUILD
    return exited_with(status, 77);
#else
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
#endif
}

// Runs `call` in a child under the filter: exit 0 if it succeeded, 77 if it
// failed with EPERM, 1 otherwise; a kill shows in the status.
int under_filter(const std::function<long()>& call) {
    return in_child([&] {
        install_seccomp(SeccompPolicy{-1});
        long r = call();
        return r >= 0 ? 0 : errno == EPERM ? 77 : 1;
    });
}

class SeccompFilterTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(dir.ok());
        fd = open(dir.file("f").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        ASSERT_GE(fd, 0);
        dir_fd = open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_GE(dir_fd, 0);
    }
    void TearDown() override {
        close(fd);
        close(dir_fd);
    }
    testing::TempDir dir;
    int fd = -1, dir_fd = -1;
};

TEST_F(SeccompFilterTest, WhatTheChildNeedsWorks) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    EXPECT_TRUE(exited_with(under_filter([&] { return syscall(SYS_pwrite64, fd, "abc", 3, 0); }), 0));
    EXPECT_TRUE(exited_with(under_filter([&] { return syscall(SYS_write, pipe_fds[1], "x", 1); }), 0));
    EXPECT_TRUE(exited_with(under_filter([&] { return syscall(SYS_lseek, fd, 0, SEEK_DATA); }), 0));
    EXPECT_TRUE(exited_with(under_filter([&] { return syscall(SYS_fallocate, fd, 0, 0, 4096); }), 0));
    EXPECT_TRUE(exited_with(under_filter([&] {
                                void* p = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                return p == MAP_FAILED ? -1l : syscall(SYS_madvise, p, 8192, MADV_DONTNEED);
                            }),
                            0));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

TEST_F(SeccompFilterTest, FileCommitsAndEverythingElseAreRefused) {
    const std::string name = "f", other = "g";
    struct Case {
        const char* what;
        std::function<long()> call;
    } cases[] = {
        {"renameat", [&] { return syscall(SYS_renameat, dir_fd, name.c_str(), dir_fd, other.c_str()); }},
        {"renameat2", [&] { return syscall(SYS_renameat2, dir_fd, name.c_str(), dir_fd, other.c_str(), 0); }},
        {"unlinkat", [&] { return syscall(SYS_unlinkat, dir_fd, name.c_str(), 0); }},
        {"linkat", [&] { return syscall(SYS_linkat, fd, "", dir_fd, other.c_str(), AT_EMPTY_PATH); }},
        {"fchmod", [&] { return syscall(SYS_fchmod, fd, 04755); }},
        {"fchown", [&] { return syscall(SYS_fchown, fd, 0, 0); }},
        {"ftruncate", [&] { return syscall(SYS_ftruncate, fd, 0); }},
        {"fstat", [&] {
             struct stat st;
             return syscall(SYS_fstat, fd, &st);
         }},
        {"newfstatat", [&] {
             struct stat st;
             return syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH);
         }},
        {"openat", [&] { return syscall(SYS_openat, dir_fd, name.c_str(), O_RDONLY); }},
        {"ioctl TCGETS", [&] {
             struct termios t;
             return syscall(SYS_ioctl, 2, TCGETS, &t);
         }},
        {"madvise MADV_WILLNEED", [&] {
             void* p = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
             return p == MAP_FAILED ? 0l : syscall(SYS_madvise, p, 8192, MADV_WILLNEED);
         }},
        {"mmap PROT_EXEC", [&] {
             return long(syscall(SYS_mmap, nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
         }},
        {"fork", [&] { return syscall(SYS_fork); }},
        {"kill", [&] { return syscall(SYS_kill, getppid(), 0); }},
    };
    for (const Case& c : cases) EXPECT_TRUE(refused(under_filter(c.call))) << c.what;
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_EQ(access(dir.file("g").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace instar
