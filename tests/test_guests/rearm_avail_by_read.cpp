// The audit's endless notify (issue 10): a read whose data buffer covers
// the queue's own avail ring and the request's own header. Each sector the
// host reads in says "one more request is available" and names the next
// sector to read, so a host that re-reads avail.idx while it serves a
// notify never runs dry and never returns to KVM_RUN, where the deadline
// lives. The sectors are first written to the output device, then read
// back from it with the attack's layout; when the input is large, the
// output device has an I/O thread and the attack runs there.
// The host must refuse the buffer: it overlaps a ring.
#include "abi/ops/copy.h"
#include "guest/libc.h"
#include "guest/op.h"
#include "raw_queue.h"

namespace {
using namespace instar;
using namespace instar::test_guest;

constexpr uint16_t kQueue = 4;            // avail ring: 4 + 2*4 + 2 = 14 bytes
constexpr uint32_t kHeaderAt = 16;        // the request header, right after it
constexpr uint32_t kSectors = 65536;      // idx and sector wrap together: endless
constexpr uint32_t kBatch = 4u << 20;     // written 4 MiB at a time

// Sector j, once read over the avail ring and the header: "avail.idx is
// j+1 (one request past the j the host has taken), the request is ring
// entry 0 again, and it reads sector j+1".
void craft_sector(uint8_t* s, uint32_t j) {
    memset(s, 0, v::kSectorSize);
    auto* avail = reinterpret_cast<uint16_t*>(s);
    avail[0] = v::kAvailFNoInterrupt;
    avail[1] = uint16_t(j + 1);
    auto* header = reinterpret_cast<v::BlkRequestHeader*>(s + kHeaderAt);
    *header = v::BlkRequestHeader{v::kBlkTIn, 0, uint16_t(j + 1)};
}

void run(const abi::BootConfig&) {
    RawQueue out;
    init_plain(out, abi::kOutputDeviceIndex, kQueue);
    uint8_t* buf = take(kBatch);
    for (uint32_t first = 0; first < kSectors; first += kBatch / v::kSectorSize) {
        for (uint32_t i = 0; i < kBatch / v::kSectorSize; ++i) craft_sector(buf + i * v::kSectorSize, first + i);
        if (!out.run(v::kBlkTOut, first, buf, kBatch))
            guest::fail(abi::GuestError::write_failed, "the output is too small for the attack (32 MiB)");
    }

    // The attack: avail ring and header share one 512-byte read buffer.
    uint8_t* ring = take(4096);
    out.init(abi::kOutputDeviceIndex, kQueue, take(4096), ring, take(4096));
    craft_sector(ring, 0);  // idx 1 (set by post), sector 1
    uint8_t* status = take(16, 16);
    out.chain(0, reinterpret_cast<v::BlkRequestHeader*>(ring + kHeaderAt), ring, v::kSectorSize, true, status);
    out.post(0);
    out.notify();
    out.wait();
    guest::fail(abi::GuestError::internal, "host read into a virtqueue ring");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
