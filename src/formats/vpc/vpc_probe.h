// Recognising VHD images and reading their virtual size the way qemu 7.2's
// vpc driver does when it opens one.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/probe.h"

namespace instar::formats {

// qemu's probe: the footer copy at offset 0. A fixed image (footer only at
// the end) is not recognised, just as qemu-img takes it for raw.
bool vpc_detect(const uint8_t* head, size_t len);

// What qemu's vpc driver knows once it has opened an image.
struct VpcImage {
    uint64_t virtual_size;
    // A footer copy at offset 0: qemu reads the dynamic header and BAT,
    // whatever the footer's disk type says.
    bool dynamic;
    // The footer's own disk type field. qemu reports the block size as
    // cluster size unless this says fixed, even for a dynamic layout.
    uint32_t disk_type;
    // Dynamic layout only: the block size, the sector bitmap ahead of each
    // block's data in the file, and the BAT (its entries are block
    // positions in sectors, kBatUnallocated for none).
    uint32_t block_size;
    uint32_t bitmap_size;
    uint64_t bat_offset;
    uint32_t bat_entries;
};

// Opens the image as qemu 7.2's vpc driver does, with the same checks
// (footer at 0 or at the end, footer checksum, 2040 GiB limit, dynamic
// header and BAT sanity). Anything qemu refuses gives image_invalid.
Status vpc_open(ImageSource& src, Arena& arena, VpcImage& out);

// vpc_open's virtual size, for `create -b`.
Status vpc_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
