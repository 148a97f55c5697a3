// Posts a read whose buffer lies far outside guest RAM.
#include "abi/virtio.h"
#include "guest/op.h"
#include "guest/virtio_blk.h"

namespace {
void run(const instar::abi::BootConfig&) {
    instar::guest::VirtioBlk dev;
    if (!dev.init(0)) instar::guest::fail(instar::abi::GuestError::device_missing);
    dev.transfer(instar::abi::virtio::kBlkTIn, 0, reinterpret_cast<void*>(0x80000000ull), 512);
    instar::guest::fail(instar::abi::GuestError::internal, "host accepted a buffer outside RAM");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
