#include "formats/qcow2/qcow2_probe.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_open_checks.h"

namespace instar::formats {

bool qcow2_detect(const uint8_t* head, size_t len) {
    using namespace qcow2;
    if (!head || len < 8) return false;
    return load_be32(head + kHdrMagic) == kMagic && load_be32(head + kHdrVersion) >= 2;
}

Status qcow2_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
    // qemu-img create -b opens the backing file as a whole, header
    // extensions and snapshot table included.
    qcow2::Header h;
    const Status st = qcow2::check_open(src, arena, h);
    if (st != kOk) return st;
    // qemu counts the disk in whole sectors.
    out.virtual_size = h.size & ~(qcow2::kSectorSize - 1);
    out.has_cid = false;
    out.cid = 0;
    return kOk;
}

}  // namespace instar::formats
