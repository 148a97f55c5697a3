#include "formats/vhdx/vhdx_info.h"

#include "formats/vhdx/vhdx_probe.h"

namespace instar::formats {

Status vhdx_read_info(ImageSource& src, Arena& arena, abi::InfoResult& out) {
    __builtin_memset(&out, 0, sizeof out);
    VhdxImage image{};
    if (Status s = vhdx_open(src, arena, image); s != kOk) return s;
    out.format = uint32_t(abi::Format::vhdx);
    out.virtual_size = image.virtual_size;
    out.flags |= abi::kInfoHasClusterSize;
    out.cluster_size = image.block_size;
    return kOk;
}

}  // namespace instar::formats
