// After every file is open and the VM is built, the sandbox child gives up
// every system call it does not need to run the guest, move its I/O and
// send its report to the parent. Anything else kills the process. Names,
// modes, owners and lengths of files are the parent's business: the child
// cannot open, create, rename, remove, chmod, chown, truncate or even stat
// a file.
#pragma once

namespace instar {

struct SeccompPolicy {
    int vcpu_fd = -1;  // the only fd ioctl() may use
};

void install_seccomp(const SeccompPolicy& policy);

}  // namespace instar
