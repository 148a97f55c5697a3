// Answers a copy with a result tagged for another operation.
#include "abi/ops/copy.h"
#include "guest/op.h"

namespace {
void run(const instar::abi::BootConfig&) {
    instar::abi::CopyResult r{0, 0};
    instar::guest::send_result(instar::abi::OpId::info, r);
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
