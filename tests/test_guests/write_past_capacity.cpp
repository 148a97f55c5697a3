// Writes beyond the output device's capacity and reports success anyway:
// the host must refuse the write, and the guest's claim must not matter.
#include "abi/ops/copy.h"
#include "abi/virtio.h"
#include "guest/heap.h"
#include "guest/op.h"
#include "guest/virtio_blk.h"

namespace {
void run(const instar::abi::BootConfig& config) {
    using namespace instar;
    guest::VirtioBlk out;
    if (!out.init(abi::kOutputDeviceIndex)) guest::fail(abi::GuestError::device_missing);
    void* buf = guest::heap().alloc(out.block_size(), 4096);
    uint64_t sector = out.capacity_bytes() / abi::virtio::kSectorSize;
    if (out.transfer(abi::virtio::kBlkTOut, sector, buf, out.block_size()))
        guest::fail(abi::GuestError::internal, "host accepted a write past capacity");
    abi::CopyResult r{config.devices[0].size_bytes, config.devices[0].size_bytes};
    guest::send_result(abi::OpId::copy, r);
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
