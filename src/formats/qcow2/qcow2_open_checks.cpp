#include "formats/qcow2/qcow2_open_checks.h"

#include "abi/ops/info.h"
#include "formats/common/record_sink.h"
#include "formats/qcow2/qcow2_info.h"

namespace instar::formats::qcow2 {

Status check_open(ImageSource& src, Arena& arena, Header& out) {
    Status st = read_header(src, out);
    if (st != kOk) return st;
    // info's reader makes the rest of qemu's checks; its lists and result
    // are not needed here.
    const size_t mark = arena.used();
    auto* info = static_cast<abi::InfoResult*>(arena.alloc(sizeof(abi::InfoResult), alignof(abi::InfoResult), false));
    if (!info) return Status::out_of_memory;
    DiscardRecords records;
    st = qcow2_read_info(src, arena, records, *info);
    arena.release_to(mark);
    // Once the header passed, unsupported_feature only says that info's
    // result cannot show the image; qemu opens it.
    return st == Status::unsupported_feature ? kOk : st;
}

}  // namespace instar::formats::qcow2
