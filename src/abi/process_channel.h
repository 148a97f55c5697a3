// The process sandbox's channel (ARCHITECTURE.md, "Sandboxes"): on hosts
// without a usable /dev/kvm, the guest runtime, ops and format code run
// natively in a forked process whose seccomp filter leaves it one
// SOCK_SEQPACKET socket. Its RAM is a mapping shared with the host at
// kProcessRamBase, laid out as abi/memory_map.h says (guest-physical
// address = offset into it). Each register access or message is one
// ProcessRequest on the socket, and the process waits for one ProcessReply:
// the host serves them with the same device and message code as VM exits.
#pragma once

#include <stdint.h>

#include "abi/memory_map.h"

namespace instar::abi {

// Where host and op process both map the shared RAM. Fixed, so the process
// needs no address from the host; away from where Linux puts executables,
// heaps, stacks and libraries, in the part of the address space that
// AddressSanitizer leaves to programs (sanitizer builds run it too) and
// below the space its allocator takes (0x600000000000 up).
inline constexpr uint64_t kProcessRamBase = 0x400000000000ull;

enum class ProcessCall : uint32_t {
    mmio_read = 1,   // addr: MMIO address, len: 4; reply: the value
    mmio_write = 2,  // addr: MMIO address, len: 4, value: what is written; reply: 0
    hypercall = 3,   // addr: port, value: the message's guest-physical address; reply: 0
};

struct ProcessRequest {
    uint32_t call;  // ProcessCall
    uint32_t len;
    uint64_t addr;
    uint64_t value;
};
static_assert(sizeof(ProcessRequest) == 24);

struct ProcessReply {
    uint64_t value;
};
static_assert(sizeof(ProcessReply) == 8);

static_assert(kProcessRamBase % (2ull << 20) == 0);

}  // namespace instar::abi
