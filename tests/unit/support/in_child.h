// Runs part of a test in a forked child, for what a process cannot undo
// (seccomp, Landlock): the body returns the child's exit code, and the
// parent gets the wait status.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace instar::testing {

template <typename Body>
int in_child(Body body) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) _exit(body());
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    return status;
}

inline bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

}  // namespace instar::testing
