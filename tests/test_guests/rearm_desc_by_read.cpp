// A variant of rearm_avail_by_read that a fix guarding only avail.idx
// would miss: the read covers the queue's descriptor table instead, and
// the table it reads in turns every request still to come in the same
// notify into a 64-segment read of 32 MiB. 255 of them follow, all from
// one notify. The host must refuse the buffer: it overlaps a ring.
#include "abi/ops/copy.h"
#include "guest/libc.h"
#include "guest/op.h"
#include "raw_queue.h"

namespace {
using namespace instar;
using namespace instar::test_guest;

constexpr uint16_t kQueue = 256;
constexpr uint32_t kSegment = 512u << 10;  // 64 segments: 32 MiB, within the output's capacity
constexpr uint16_t kFirst = 100;           // the innocent-looking first request's descriptors

void run(const abi::BootConfig&) {
    RawQueue out;
    init_plain(out, abi::kOutputDeviceIndex, kQueue);
    auto* header = reinterpret_cast<v::BlkRequestHeader*>(take(16, 16));
    *header = v::BlkRequestHeader{v::kBlkTIn, 0, 0};
    uint8_t* status = take(16, 16);
    uint8_t* data = take(kSegment);

    // The table to read in: chain 0 is header, 64 segments, status.
    const uint32_t block = 64u << 10;
    uint8_t* table = take(block);
    memset(table, 0, block);
    auto* d = reinterpret_cast<v::Desc*>(table);
    d[0] = v::Desc{reinterpret_cast<uint64_t>(header), 16, v::kDescFNext, 1};
    for (uint16_t i = 1; i <= v::kBlkSegMax; ++i)
        d[i] = v::Desc{reinterpret_cast<uint64_t>(data), kSegment, v::kDescFNext | v::kDescFWrite, uint16_t(i + 1)};
    d[v::kBlkSegMax + 1] = v::Desc{reinterpret_cast<uint64_t>(status), 1, v::kDescFWrite, 0};
    if (!out.run(v::kBlkTOut, 0, table, block))
        guest::fail(abi::GuestError::write_failed, "the output is too small for the attack (32 MiB)");

    // One request reads the table over the live one; 255 more use it.
    auto* first = reinterpret_cast<v::BlkRequestHeader*>(take(16, 16));
    *first = v::BlkRequestHeader{v::kBlkTIn, 0, 0};
    out.chain(kFirst, first, out.desc(), uint32_t(v::desc_table_bytes(kQueue)), true, status);
    out.post(kFirst);
    out.post(0, kQueue - 1);
    out.notify();
    out.wait();
    guest::fail(abi::GuestError::internal, "host read into a descriptor table");
}
}  // namespace
INSTAR_GUEST_OP(1, instar::abi::OpId::copy, run);
