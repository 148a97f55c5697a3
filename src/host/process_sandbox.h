// The process sandbox (ARCHITECTURE.md, "Sandboxes"), for hosts without a
// usable /dev/kvm: the op's guest runtime, op and format code, compiled
// natively, run in a forked process that holds one socket and may do
// nothing but read and write it (seccomp), over guest RAM shared with this
// process (abi/process_channel.h). This process serves it exactly as it
// serves a VM: the same devices, the same message checks, the same
// deadline.
#pragma once

#include "host/guest_run.h"

namespace instar {

// What runs in the op process once it is confined, in place of run.op:
// hostile op processes for the tests. It talks on `channel` and must not
// return.
using OpProcessBody = void (*)(int channel);

// run_guest with the op process in place of the VM; the same contract.
GuestOutput run_guest_process(const GuestRun& run, OpProcessBody body = nullptr);

}  // namespace instar
