// Stops without saying anything.
#include "guest/op.h"

namespace {
void run(const instar::abi::BootConfig&) {
    for (;;) asm volatile("cli; hlt");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
