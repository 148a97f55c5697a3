#include "formats/qcow2/qcow2_probe.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_info.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_open.h"

namespace instar::formats {

bool qcow2_detect(const uint8_t* head, size_t len) {
    using namespace qcow2;
    if (!head || len < 8) return false;
    return load_be32(head + kHdrMagic) == kMagic && load_be32(head + kHdrVersion) >= 2;
}

Status qcow2_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
    qcow2::Header h;
    Status st = qcow2::read_header(src, h);
    if (st != kOk) return st;
    // qemu-img create -b opens the backing file as a whole, header
    // extensions and snapshot table included: those get info's checks.
    // What info refuses only because its result cannot show it
    // (unsupported_feature, once the header passed) qemu opens.
    auto* info = static_cast<abi::InfoResult*>(arena.alloc(sizeof(abi::InfoResult), alignof(abi::InfoResult), false));
    if (!info) return Status::out_of_memory;
    DiscardRecords snapshots;
    st = qcow2_read_info(src, arena, snapshots, *info);
    if (st != kOk && st != Status::unsupported_feature) return st;
    // qemu counts the disk in whole sectors.
    out.virtual_size = h.size & ~(qcow2::kSectorSize - 1);
    out.has_cid = false;
    out.cid = 0;
    return kOk;
}

}  // namespace instar::formats
