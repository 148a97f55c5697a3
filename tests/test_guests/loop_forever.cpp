// Never finishes: the deadline must end it.
#include "guest/op.h"

namespace {
void run(const instar::abi::BootConfig&) {
    for (;;) asm volatile("" ::: "memory");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
