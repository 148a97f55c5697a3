#include "formats/detect.h"

#include "formats/common/qemu_block_view.h"
#include "formats/format_driver.h"
#include "formats/vpc/vpc_probe.h"

namespace instar::formats {
abi::Format sniff_format(const uint8_t* head, size_t len) {
    for (const FormatDriver* d : kSignedFormats)
        if (d->detect(head, len)) return d->format;
    return abi::Format::none;
}

Status detect_image(ImageSource& src, Arena& arena, abi::Format requested, DetectedImage& out) {
    out = DetectedImage{abi::Format::raw, BasicImageInfo{}};
    if (!qemu_can_open(src)) return Status::image_invalid;
    // qemu counts a raw file in whole sectors.
    out.info.virtual_size = qemu_file_length(src);
    if (requested == abi::Format::raw) return kOk;

    auto* head = static_cast<uint8_t*>(arena.alloc(kProbeHeadBytes, 16));
    if (!head) return Status::out_of_memory;
    size_t head_len = src.size() < kProbeHeadBytes ? size_t(src.size()) : kProbeHeadBytes;
    if (!src.read(0, head, kProbeHeadBytes)) return Status::read_failed;

    abi::Format found = sniff_format(head, head_len);
    if (requested == abi::Format::vpc && found == abi::Format::none) {
        // A fixed vpc image has its only footer at the end, where no probe
        // looks (qemu's neither: it takes the file for raw), but qemu's vpc
        // driver, asked for by name, finds it there.
        out.format = abi::Format::vpc;
        Status s = vpc_read_basic(src, arena, out.info);
        return s == Status::image_invalid ? Status::image_format_mismatch : s;
    }
    if (requested != abi::Format::none && requested != found) return Status::image_format_mismatch;
    if (found == abi::Format::none) return kOk;  // raw
    out.format = found;
    return format_driver(found)->read_basic(src, arena, out.info);
}

}  // namespace instar::formats
