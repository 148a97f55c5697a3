// A read on one device whose buffer covers another device's avail ring:
// a check that looked only at the device's own rings would let one queue
// rewrite the next. The host must refuse the buffer: it overlaps a ring.
#include "abi/ops/copy.h"
#include "guest/op.h"
#include "raw_queue.h"

namespace {
using namespace instar;
using namespace instar::test_guest;

void run(const abi::BootConfig&) {
    RawQueue in, out;
    init_plain(in, 0, 4);
    uint8_t* out_avail = take(4096);
    out.init(abi::kOutputDeviceIndex, 4, take(4096), out_avail, take(4096));
    if (!in.run(v::kBlkTIn, 0, out_avail, v::kSectorSize))
        guest::fail(abi::GuestError::read_failed, "the input is too small for the attack");
    guest::fail(abi::GuestError::internal, "host read into another device's ring");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
