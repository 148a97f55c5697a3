// Disk geometry: the VHD spec's CHS algorithm and qemu's rule for turning a
// requested size into the size a VHD records.
#pragma once

#include <stdint.h>

#include "formats/common/status.h"

namespace instar::formats::vpc {

struct Chs {
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors_per_track;

    uint64_t total_sectors() const { return uint64_t(cylinders) * heads * sectors_per_track; }
};

// The spec's geometry for `sectors` (clamped to the maximum geometry). The
// product may be smaller than `sectors`: the geometry rounds down.
Chs chs_for_sectors(uint64_t sectors);

struct VpcSize {
    Chs chs;
    uint64_t total_sectors;  // what the image holds and qemu-img reports
};

// What qemu-img create makes of `bytes` (already a multiple of 512): the
// smallest geometry holding it, or, when only the maximum geometry does (or
// with force_size), the size itself. size_out_of_range above 2040 GiB.
Status resolve_size(uint64_t bytes, bool force_size, VpcSize& out);

}  // namespace instar::formats::vpc
