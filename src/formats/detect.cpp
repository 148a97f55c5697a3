#include "formats/detect.h"

#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_probe.h"
#include "formats/vhdx/vhdx_probe.h"
#include "formats/vmdk/vmdk_probe.h"
#include "formats/vpc/vpc_probe.h"

namespace instar::formats {
namespace {

struct Prober {
    abi::BackingFormat format;
    bool (*detect)(const uint8_t* head, size_t len);
    Status (*read_basic)(ImageSource& src, Arena& arena, BasicImageInfo& out);
};

const Prober kProbers[] = {
    {abi::BackingFormat::qcow2, qcow2_detect, qcow2_read_basic},
    {abi::BackingFormat::vmdk, vmdk_detect, vmdk_read_basic},
    {abi::BackingFormat::vpc, vpc_detect, vpc_read_basic},
    {abi::BackingFormat::vhdx, vhdx_detect, vhdx_read_basic},
};

}  // namespace

abi::BackingFormat sniff_format(const uint8_t* head, size_t len) {
    for (const Prober& p : kProbers)
        if (p.detect(head, len)) return p.format;
    return abi::BackingFormat::none;
}

Status detect_image(ImageSource& src, Arena& arena, abi::BackingFormat requested, DetectedImage& out) {
    out = DetectedImage{abi::BackingFormat::raw, BasicImageInfo{}};
    if (!qemu_can_open(src)) return Status::image_invalid;
    // qemu counts a raw file in whole sectors.
    out.info.virtual_size = qemu_file_length(src);
    if (requested == abi::BackingFormat::raw) return kOk;

    auto* head = static_cast<uint8_t*>(arena.alloc(kProbeHeadBytes, 16));
    if (!head) return Status::out_of_memory;
    size_t head_len = src.size() < kProbeHeadBytes ? size_t(src.size()) : kProbeHeadBytes;
    if (!src.read(0, head, kProbeHeadBytes)) return Status::read_failed;

    abi::BackingFormat found = sniff_format(head, head_len);
    if (requested == abi::BackingFormat::vpc && found == abi::BackingFormat::none) {
        // A fixed vpc image has its only footer at the end, where no probe
        // looks (qemu's neither: it takes the file for raw), but qemu's vpc
        // driver, asked for by name, finds it there.
        out.format = abi::BackingFormat::vpc;
        Status s = vpc_read_basic(src, arena, out.info);
        return s == Status::image_invalid ? Status::image_format_mismatch : s;
    }
    if (requested != abi::BackingFormat::none && requested != found) return Status::image_format_mismatch;
    for (const Prober& p : kProbers) {
        if (p.format != found) continue;
        out.format = p.format;
        return p.read_basic(src, arena, out.info);
    }
    return kOk;  // raw
}

}  // namespace instar::formats
