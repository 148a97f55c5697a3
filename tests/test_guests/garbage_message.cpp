// Sends a "result" whose bytes are garbage.
#include "abi/messages.h"
#include "guest/op.h"

namespace {
uint8_t garbage[512];
void run(const instar::abi::BootConfig&) {
    for (unsigned i = 0; i < sizeof garbage; ++i) garbage[i] = uint8_t(i * 37 + 11);
    uint32_t gpa = uint32_t(reinterpret_cast<uintptr_t>(garbage));
    asm volatile("outl %0, %1" : : "a"(gpa), "d"(instar::abi::hypercall_port(instar::abi::Hypercall::result)) : "memory");
    instar::guest::halt_forever();
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
