// flood.h on the input device, served on the vCPU thread: the notify
// itself must end at the deadline.
#include "abi/ops/copy.h"
#include "guest/op.h"
#include "flood.h"

namespace {
using namespace instar;
using namespace instar::test_guest;

void run(const abi::BootConfig&) {
    RawQueue in;
    init_plain(in, 0, kFloodQueue);
    flood(in, v::kBlkTIn);
    guest::fail(abi::GuestError::internal, "host served 64 GiB from one notify");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
