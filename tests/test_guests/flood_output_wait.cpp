// flood.h as writes to an output device with an I/O thread (a large copy),
// then the driver's wait: the thread must stop at the deadline, and the
// wait for it must not outlast the deadline.
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
    out.wait();
    guest::fail(abi::GuestError::internal, "host wrote 64 GiB from one notify");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
