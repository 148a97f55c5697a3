// After every file is open and the VM is built, the sandbox child gives up
// every system call it does not need to run the guest, move its I/O and
// send its report to the parent. Anything else kills the process. Names,
// modes, owners and lengths of files are the parent's business: the child
// cannot open, create, rename, remove, chmod, chown, truncate or even stat
// a file.
#pragma once

#include <sys/types.h>

namespace instar {

struct SeccompPolicy {
    int vcpu_fd = -1;       // the VM's vCPU: the only fd ioctl() may use
    int channel_fd = -1;    // the op process's socket: the only fd recv()/send() may use
    pid_t op_process = -1;  // the op process, which may be killed and waited for
};

void install_seccomp(const SeccompPolicy& policy);

// The op process of the process sandbox (host/process_sandbox.h): nothing
// but reading and writing its socket to the host, and leaving.
void install_op_process_seccomp(int channel_fd);

}  // namespace instar
