#include "formats/qcow2/qcow2_l2_entry.h"

#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

// How many bits from `from` on are set in `bits` (32 bits).
uint32_t ones_from(uint32_t bits, uint32_t from) {
    const uint32_t rest = ~(bits >> from);  // the first 0 of `bits` from `from` on is the first 1 here
    const uint32_t n = rest == 0 ? 32 : uint32_t(__builtin_ctz(rest));
    return n < kSubclustersPerCluster - from ? n : kSubclustersPerCluster - from;
}

}  // namespace

SubclusterRun subcluster_run(const EntryRules& rules, uint64_t entry, uint64_t bitmap, uint32_t sc) {
    const uint64_t host = entry & kL2OffsetMask;
    const uint32_t whole = rules.extended_l2 ? kSubclustersPerCluster - sc : 1;
    if (entry & kOflagCompressed) return {Subcluster::compressed, whole};
    // Standard entries only: in extended ones bit 0 is reserved and the
    // bitmap says what reads as zeroes.
    if (!rules.extended_l2 && (entry & kOflagZero)) {
        return {host ? Subcluster::zero_alloc : Subcluster::zero_plain, 1};
    }
    const bool allocated = host != 0 || (rules.data_file && (entry & kOflagCopied));
    if (!rules.extended_l2) return {allocated ? Subcluster::normal : Subcluster::unallocated_plain, 1};

    const uint32_t alloc = uint32_t(bitmap & kL2BitmapAllocMask);
    const uint32_t zero = uint32_t(bitmap >> kL2BitmapZeroShift);
    if (allocated) {
        // A subcluster cannot be both data and zeroes.
        if (alloc & zero) return {Subcluster::invalid, whole};
        if (zero & (1u << sc)) return {Subcluster::zero_alloc, ones_from(zero, sc)};
        if (alloc & (1u << sc)) return {Subcluster::normal, ones_from(alloc, sc)};
        return {Subcluster::unallocated_alloc, ones_from(~(alloc | zero), sc)};
    }
    // Without a cluster no subcluster can be allocated.
    if (alloc) return {Subcluster::invalid, whole};
    if (zero & (1u << sc)) return {Subcluster::zero_plain, ones_from(zero, sc)};
    return {Subcluster::unallocated_plain, ones_from(~zero, sc)};
}

CompressedExtent compressed_extent(uint64_t entry, uint32_t cluster_bits) {
    const uint32_t size_shift = kCompressedFieldsBits - (cluster_bits - kCompressedSizeBitsFromClusterBits);
    const uint64_t size_mask = (uint64_t(1) << (cluster_bits - kCompressedSizeBitsFromClusterBits)) - 1;
    const uint64_t offset = entry & ((uint64_t(1) << size_shift) - 1);
    const uint64_t sectors = ((entry >> size_shift) & size_mask) + 1;
    return {offset, sectors * kCompressedSectorSize - (offset & (kCompressedSectorSize - 1))};
}

}  // namespace instar::formats::qcow2
