// Recognising VHDX images and reading their virtual size the way qemu 7.2's
// vhdx driver does when it opens one read-only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/probe.h"
#include "formats/vhdx/vhdx_bat.h"

namespace instar::formats {

// qemu's probe: the "vhdxfile" signature at offset 0.
bool vhdx_detect(const uint8_t* head, size_t len);

// What qemu's vhdx driver knows once it has opened an image.
struct VhdxImage {
    uint64_t virtual_size;
    uint32_t block_size;
    // The BAT region (offset and length in bytes) and the geometry of its
    // entries, computed from the metadata's disk size as qemu computes it.
    uint64_t bat_offset;
    uint32_t bat_length;
    vhdx::BatGeometry bat;
};

// Opens the image as qemu 7.2's vhdx driver does read-only, with the same
// checks: header checksums and choice of the current header, log
// placement and search, region table checksum and overlaps, required
// metadata, BAT sanity. image_invalid where qemu fails with EINVAL (or a
// read its block layer refuses), unsupported_feature where it fails with
// ENOTSUP (unknown required regions or metadata, differencing images, 4 KiB
// logical sectors) or EPERM (a log with entries to replay, which qemu will
// not do read-only; see vhdx_log.h).
Status vhdx_open(ImageSource& src, Arena& arena, VhdxImage& out);

// vhdx_open's virtual size, for `create -b`.
Status vhdx_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
