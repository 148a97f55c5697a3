// Removes its exception handlers, then faults: a triple fault.
#include "guest/op.h"

namespace {
void run(const instar::abi::BootConfig&) {
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } empty{0, 0};
    asm volatile("lidt %0; ud2" : : "m"(empty));
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
