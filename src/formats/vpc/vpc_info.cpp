#include "formats/vpc/vpc_info.h"

#include "formats/vpc/vpc_layout.h"
#include "formats/vpc/vpc_probe.h"

namespace instar::formats {

Status vpc_read_info(ImageSource& src, Arena& arena, abi::InfoResult& out) {
    __builtin_memset(&out, 0, sizeof out);
    VpcImage image{};
    if (Status s = vpc_open(src, arena, image); s != kOk) return s;
    out.format = uint32_t(abi::Format::vpc);
    out.virtual_size = image.virtual_size;
    // qemu asks the footer, not the layout it opened: a footer copy at 0
    // that says "fixed" opens as dynamic yet reports no cluster size, and
    // any other type (differencing, unknown) reports one.
    if (image.disk_type != vpc::kDiskTypeFixed) {
        out.flags |= abi::kInfoHasClusterSize;
        out.cluster_size = image.block_size;
    }
    return kOk;
}

}  // namespace instar::formats
