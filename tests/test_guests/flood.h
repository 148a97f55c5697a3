// One notify carrying the most work a queue can hold: 256 requests, each
// the same chain of header, 64 segments of 4 MiB (all the same heap
// buffer) and status, so 64 GiB of transfers from one VM exit. The host
// must look at the deadline while it works, not only between exits.
#pragma once

#include "guest/libc.h"
#include "raw_queue.h"

namespace instar::test_guest {

constexpr uint16_t kFloodQueue = 256;

// Posts the flood on `q` (brought up with kFloodQueue entries) and
// notifies. Reads (`type` IN) need 256 MiB of capacity from sector 0.
inline void flood(RawQueue& q, uint32_t type) {
    auto* header = reinterpret_cast<v::BlkRequestHeader*>(take(16, 16));
    *header = v::BlkRequestHeader{type, 0, 0};
    uint8_t* status = take(16, 16);
    uint8_t* data = take(v::kBlkSizeMax);
    memset(data, 0x5a, v::kBlkSizeMax);  // written data is not zeroes, so it is really written
    const bool device_writes = type == v::kBlkTIn;
    v::Desc* d = q.desc();
    d[0] = v::Desc{reinterpret_cast<uint64_t>(header), 16, v::kDescFNext, 1};
    for (uint16_t i = 1; i <= v::kBlkSegMax; ++i)
        d[i] = v::Desc{reinterpret_cast<uint64_t>(data), v::kBlkSizeMax,
                       uint16_t(v::kDescFNext | (device_writes ? v::kDescFWrite : 0)), uint16_t(i + 1)};
    d[v::kBlkSegMax + 1] = v::Desc{reinterpret_cast<uint64_t>(status), 1, v::kDescFWrite, 0};
    q.post(0, kFloodQueue);
    q.notify();
}

}  // namespace instar::test_guest
