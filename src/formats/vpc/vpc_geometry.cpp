#include "formats/vpc/vpc_geometry.h"

#include "formats/vpc/vpc_layout.h"

namespace instar::formats::vpc {

namespace {

// Thresholds of the spec's algorithm: 17 sectors per track up to 1024
// cylinders per head, then 31, then 63, then 255 from 16 heads x 63 on.
constexpr uint32_t kSptSmall = 17;
constexpr uint32_t kSptMedium = 31;
constexpr uint32_t kSptLarge = 63;
constexpr uint32_t kMinHeads = 4;
constexpr uint32_t kCylindersPerHeadLimit = 1024;
constexpr uint64_t kLargeDiskSectors = uint64_t(kChsMaxCylinders) * kChsMaxHeads * kSptLarge;

}  // namespace

Chs chs_for_sectors(uint64_t sectors) {
    if (sectors > kMaxGeometrySectors) sectors = kMaxGeometrySectors;

    uint32_t spt;
    uint32_t heads;
    uint64_t cyl_heads;
    if (sectors >= kLargeDiskSectors) {
        spt = kChsMaxSectorsPerTrack;
        heads = kChsMaxHeads;
        cyl_heads = sectors / spt;
    } else {
        spt = kSptSmall;
        cyl_heads = sectors / spt;
        uint64_t h = (cyl_heads + kCylindersPerHeadLimit - 1) / kCylindersPerHeadLimit;
        if (h < kMinHeads) h = kMinHeads;
        // qemu keeps the head count in a byte, but every count it could
        // wrap to still fails the cylinder test below, so the plain value
        // decides the same way.
        if (h > kChsMaxHeads || cyl_heads >= h * kCylindersPerHeadLimit) {
            spt = kSptMedium;
            heads = kChsMaxHeads;
            cyl_heads = sectors / spt;
        } else {
            heads = uint32_t(h);
        }
        if (cyl_heads >= uint64_t(heads) * kCylindersPerHeadLimit) {
            spt = kSptLarge;
            heads = kChsMaxHeads;
            cyl_heads = sectors / spt;
        }
    }
    return Chs{uint16_t(cyl_heads / heads), uint8_t(heads), uint8_t(spt)};
}

Status resolve_size(uint64_t bytes, bool force_size, VpcSize& out) {
    uint64_t requested = bytes / kSectorSize;
    Chs chs{0, 0, 0};
    if (force_size) {
        chs = Chs{uint16_t(kChsMaxCylinders), uint8_t(kChsMaxHeads), uint8_t(kChsMaxSectorsPerTrack)};
    } else {
        // Round up: the first size at or above the request whose geometry
        // covers the request (qemu-img convert must never truncate).
        uint64_t target = requested < kMaxGeometrySectors ? requested : kMaxGeometrySectors;
        for (uint64_t probe = target; chs.total_sectors() < target; ++probe) {
            chs = chs_for_sectors(probe);
        }
    }

    uint64_t total = chs.total_sectors();
    if (total == kMaxGeometrySectors) {
        total = requested;
        if (total > kMaxSectors) return Status::size_out_of_range;
    }
    out.chs = chs;
    out.total_sectors = total;
    return kOk;
}

}  // namespace instar::formats::vpc
