// After every file is open and the VM is built, the process gives up all
// system calls it does not need to run the guest, move its I/O and finish
// (print, truncate and rename the output into place). Anything else kills
// the process.
#pragma once

#include <vector>

namespace instar {

struct SeccompPolicy {
    int vcpu_fd = -1;              // the only fd ioctl() may use
    std::vector<int> commit_dirs;  // directories where renameat/unlinkat may act
};

void install_seccomp(const SeccompPolicy& policy);

}  // namespace instar
