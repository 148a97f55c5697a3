// flood.h as writes to an output device with an I/O thread, then a spin
// that never touches the device again: the deadline ends the vCPU, and
// taking the device down must not wait for the rest of the flood.
#include "abi/ops/copy.h"
#include "guest/op.h"
#include "flood.h"

namespace {
using namespace instar;
using namespace instar::test_guest;

void run(const abi::BootConfig&) {
    RawQueue out;
    init_plain(out, abi::kOutputDeviceIndex, kFloodQueue);
    flood(out, v::kBlkTOut);
    for (;;) asm volatile("" ::: "memory");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
