// The process platform (guest/platform.h): guest RAM is the shared mapping
// at abi::kProcessRamBase, and each register access or message is one
// request and one reply on the socket to the host (abi/process_channel.h).
#include <unistd.h>

#include "abi/process_channel.h"
#include "guest/platform.h"
#include "guest/process/process_entry.h"

namespace instar::guest::platform {
namespace {

int g_channel = -1;

uint64_t call(abi::ProcessCall what, uint32_t len, uint64_t addr, uint64_t value) {
    const abi::ProcessRequest request{uint32_t(what), len, addr, value};
    // The host reads what the request points at once it arrives: every
    // store before it must be done (write() is a real barrier; this keeps
    // the compiler's stores before it too).
    compiler_barrier();
    abi::ProcessReply reply{};
    if (write(g_channel, &request, sizeof request) != ssize_t(sizeof request) ||
        read(g_channel, &reply, sizeof reply) != ssize_t(sizeof reply))
        _exit(0);  // the host has ended the run (a result, a failure, the deadline)
    compiler_barrier();
    return reply.value;
}

}  // namespace

uint32_t mmio_read32(uint64_t addr) { return uint32_t(call(abi::ProcessCall::mmio_read, 4, addr, 0)); }
void mmio_write32(uint64_t addr, uint32_t value) { call(abi::ProcessCall::mmio_write, 4, addr, value); }
void hypercall(uint16_t port, uint64_t gpa) { call(abi::ProcessCall::hypercall, 0, port, gpa); }

void halt() { _exit(0); }

// A pointer outside the mapping gives an address outside guest RAM, which
// the host refuses, as it refuses one from a guest in a VM.
uint64_t gpa_of(const volatile void* p) { return reinterpret_cast<uintptr_t>(p) - abi::kProcessRamBase; }
void* ram_at(uint64_t gpa) { return reinterpret_cast<void*>(abi::kProcessRamBase + gpa); }

}  // namespace instar::guest::platform

namespace instar::guest::process {
void set_channel(int fd) { platform::g_channel = fd; }
}  // namespace instar::guest::process
