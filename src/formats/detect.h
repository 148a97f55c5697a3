// Which format an existing image is in, and its basic facts: the one place
// that knows every format's probe. Used by the guest's `probe` and `create`
// operations (backing files).
#pragma once

#include "abi/ops/create.h"
#include "formats/common/probe.h"

namespace instar::formats {

struct DetectedImage {
    abi::Format format;
    BasicImageInfo info;
};

// The format whose signature `head` (the file's first bytes) carries, or
// none: qcow2, vmdk (sparse or descriptor), vpc (dynamic), vhdx.
abi::Format sniff_format(const uint8_t* head, size_t len);

// requested == none: decide from the bytes (qcow2, vmdk, vpc, vhdx magic;
// anything else is raw, as qemu's probe). Otherwise the bytes must be that
// format (image_format_mismatch if not; vpc also finds a fixed image by
// its footer at the end); raw accepts anything. A file within a sector of
// 2^63 bytes is image_invalid whatever is asked: qemu opens none.
Status detect_image(ImageSource& src, Arena& arena, abi::Format requested, DetectedImage& out);

}  // namespace instar::formats
