#include "formats/info.h"

#include "formats/common/qemu_block_view.h"
#include "formats/format_driver.h"
#include "formats/raw/partition_table.h"

namespace instar::formats {

Status read_image_info(ImageSource& src, Arena& arena, abi::Format requested, bool unsafe_quirks,
                       VmdkExtentFiles& vmdk_extent_files, RecordSink& records, abi::InfoResult& out) {
    out = abi::InfoResult{};
    if (!qemu_can_open(src)) return Status::image_invalid;
    auto* head = static_cast<uint8_t*>(arena.alloc(kProbeHeadBytes, 16));
    if (!head) return Status::out_of_memory;
    size_t head_len = src.size() < kProbeHeadBytes ? size_t(src.size()) : kProbeHeadBytes;
    if (!src.read(0, head, kProbeHeadBytes)) return Status::read_failed;

    abi::Format format = requested;
    if (format == abi::Format::none) format = sniff_format(head, head_len);
    const bool unknown = format == abi::Format::none;
    // Bytes that match no format are raw only with a partition table, or
    // with qemu's own rule (unsafe_quirks).
    if (unknown && !unsafe_quirks && !has_partition_table(head, head_len)) return Status::image_format_unknown;
    const FormatDriver* driver = format_driver(unknown ? abi::Format::raw : format);
    if (!driver) return Status::image_format_unknown;
    const Status s = driver->read_info(InfoReadContext{src, arena, head, head_len, records, vmdk_extent_files}, out);
    if (s == kOk && unknown) out.flags |= abi::kInfoFormatUnknownAsRaw;
    return s;
}

}  // namespace instar::formats
