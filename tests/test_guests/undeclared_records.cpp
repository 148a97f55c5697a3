// Sends copy a list it never declared (copy takes no records), then a
// result that would otherwise be accepted.
#include "abi/ops/copy.h"
#include "guest/op.h"

namespace {
void run(const instar::abi::BootConfig& config) {
    uint64_t entry = 42;
    instar::guest::send_record(instar::abi::OpId::copy, 1, &entry, sizeof entry);
    uint64_t size = config.devices[0].size_bytes;
    instar::guest::send_result(instar::abi::OpId::copy, instar::abi::CopyResult{size, size});
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
