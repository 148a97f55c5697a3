// Reads through a null pointer: the guest's exception handler reports it.
#include "guest/op.h"

namespace {
void run(const instar::abi::BootConfig&) {
    volatile uint64_t* p = nullptr;
    asm volatile("" : "+r"(p));
    (void)*p;
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
