#include "formats/info.h"

#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_info.h"
#include "formats/raw/partition_table.h"
#include "formats/vhdx/vhdx_info.h"
#include "formats/vmdk/vmdk_info.h"
#include "formats/vpc/vpc_info.h"

namespace instar::formats {
namespace {

Status read_raw(ImageSource& src, const uint8_t* head, size_t head_len, bool unknown, abi::InfoResult& out) {
    out.format = uint32_t(abi::BackingFormat::raw);
    out.virtual_size = qemu_file_length(src);  // qemu counts whole sectors
    if (has_partition_table(head, head_len)) out.flags |= abi::kInfoHasPartitionTable;
    if (unknown) out.flags |= abi::kInfoFormatUnknownAsRaw;
    return kOk;
}

}  // namespace

Status read_image_info(ImageSource& src, Arena& arena, abi::BackingFormat requested, bool unsafe_quirks,
                       VmdkExtentFiles& vmdk_extent_files, RecordSink& records, abi::InfoResult& out) {
    out = abi::InfoResult{};
    if (!qemu_can_open(src)) return Status::image_invalid;
    auto* head = static_cast<uint8_t*>(arena.alloc(kProbeHeadBytes, 16));
    if (!head) return Status::out_of_memory;
    size_t head_len = src.size() < kProbeHeadBytes ? size_t(src.size()) : kProbeHeadBytes;
    if (!src.read(0, head, kProbeHeadBytes)) return Status::read_failed;

    abi::BackingFormat format = requested;
    if (format == abi::BackingFormat::none) format = sniff_format(head, head_len);
    switch (format) {
    case abi::BackingFormat::qcow2: return qcow2_read_info(src, arena, records, out);
    case abi::BackingFormat::vmdk: return vmdk_read_info(src, arena, vmdk_extent_files, records, out);
    case abi::BackingFormat::vpc: return vpc_read_info(src, arena, out);
    case abi::BackingFormat::vhdx: return vhdx_read_info(src, arena, out);
    case abi::BackingFormat::raw: return read_raw(src, head, head_len, false, out);
    case abi::BackingFormat::none: break;
    }
    if (!unsafe_quirks && !has_partition_table(head, head_len)) return Status::image_format_unknown;
    return read_raw(src, head, head_len, true, out);
}

}  // namespace instar::formats
