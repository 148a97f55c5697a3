#include "formats/vmdk/vmdk_layout.h"

#include "formats/common/bits.h"

namespace instar::formats::vmdk {

namespace {

}  // namespace

bool compute_sparse_layout(uint64_t capacity_sectors, uint64_t grain_sectors, SparseLayout& out) {
    if (grain_sectors == 0 || grain_sectors > kMaxGrainSectors) return false;
    const uint64_t grains = div_round_up(capacity_sectors, grain_sectors);
    // qemu counts grains in 32 bits: past this it silently writes a
    // directory for the truncated count, an image nothing can write to.
    if (grains > UINT32_MAX) return false;

    out.capacity = capacity_sectors;
    out.grain_sectors = grain_sectors;
    out.grains = grains;
    out.gt_sectors = div_round_up(uint64_t(kGtesPerGt) * kGteBytes, kSectorSize);
    out.gt_count = div_round_up(grains, kGtesPerGt);
    out.gd_sectors = div_round_up(out.gt_count * kGdeBytes, kSectorSize);

    const uint64_t tables = out.gt_sectors * out.gt_count;
    out.rgd_offset = kDescriptorSector + kDescriptorSectors;
    out.gd_offset = out.rgd_offset + out.gd_sectors + tables;
    const uint64_t metadata_end = out.gd_offset + out.gd_sectors + tables;
    out.grain_offset = div_round_up(metadata_end, grain_sectors) * grain_sectors;

    // Directory entries are 32-bit sector numbers of grain tables; the
    // grain bound above keeps them far below this, checked all the same.
    return metadata_end <= UINT32_MAX;
}

}  // namespace instar::formats::vmdk
