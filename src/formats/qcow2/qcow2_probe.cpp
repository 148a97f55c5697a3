#include "qcow2_probe.h"

#include "../common/endian.h"
#include "qcow2_layout.h"

namespace instar::formats {
namespace {

using namespace qcow2;

// validate_table_offset: representable and cluster-aligned.
bool table_offset_ok(uint64_t offset, uint64_t entries, uint64_t entry_bytes, uint64_t cluster_size) {
    if (entries > kInt64Max / entry_bytes) return false;
    const uint64_t size = entries * entry_bytes;
    if (offset > kInt64Max - size) return false;
    return (offset & (cluster_size - 1)) == 0;
}

// qemu reads the tables it loads at open; past the end of the file that
// yields zeroes, past the block layer's limit an I/O error.
bool readable(uint64_t offset, uint64_t bytes) {
    return bytes == 0 || (offset <= kBlockMaxLength && bytes <= kBlockMaxLength - offset);
}

}  // namespace

bool qcow2_detect(const uint8_t* head, size_t len) {
    if (!head || len < 8) return false;
    return load_be32(head + kHdrMagic) == kMagic && load_be32(head + kHdrVersion) >= 2;
}

Status qcow2_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
    (void)arena;
    uint8_t h[kHeaderV3Length] = {};
    const uint64_t file_size = src.size();
    if (file_size < kHeaderV2Length) return Status::image_invalid;
    const size_t avail = file_size < sizeof(h) ? size_t(file_size) : sizeof(h);
    if (!src.read(0, h, avail)) return Status::read_failed;

    if (load_be32(h + kHdrMagic) != kMagic) return Status::image_invalid;
    const uint32_t version = load_be32(h + kHdrVersion);
    if (version < 2) return Status::image_invalid;
    if (version > 3) return Status::unsupported_feature;

    const uint32_t cluster_bits = load_be32(h + kHdrClusterBits);
    if (cluster_bits < kMinClusterBits || cluster_bits > kMaxClusterBits) return Status::image_invalid;
    const uint64_t cluster_size = uint64_t(1) << cluster_bits;

    uint64_t incompatible = 0;
    uint32_t refcount_order = 4;
    if (version >= 3) {
        if (file_size < kHeaderV3MinLength) return Status::image_invalid;
        const uint32_t header_length = load_be32(h + kHdrHeaderLength);
        if (header_length < kHeaderV3MinLength || header_length > cluster_size) return Status::image_invalid;
        if (header_length > file_size) return Status::image_invalid;
        incompatible = load_be64(h + kHdrIncompatibleFeatures);
        if (incompatible & ~kIncompatKnownMask) return Status::unsupported_feature;
        refcount_order = load_be32(h + kHdrRefcountOrder);
        if (refcount_order > kMaxRefcountOrder) return Status::image_invalid;
        // The type byte exists only in headers long enough to hold it, and
        // must agree with its feature bit.
        const uint8_t compression = header_length > kHdrCompressionType ? h[kHdrCompressionType] : kCompressionZlib;
        if (compression > kCompressionZstd) return Status::unsupported_feature;
        if ((compression != kCompressionZlib) != ((incompatible & kIncompatCompression) != 0)) {
            return Status::image_invalid;
        }
    }

    if (load_be64(h + kHdrBackingFileOffset) > cluster_size) return Status::image_invalid;
    if (load_be32(h + kHdrBackingFileSize) > kBackingNameMax) return Status::image_invalid;
    if (load_be32(h + kHdrCryptMethod) > kCryptMethodMax) return Status::image_invalid;

    const uint64_t l1_size = load_be32(h + kHdrL1Size);
    if (l1_size > kMaxL1Bytes / kEntryBytes) return Status::image_invalid;
    const uint64_t l1_offset = load_be64(h + kHdrL1TableOffset);
    if (!table_offset_ok(l1_offset, l1_size, kEntryBytes, cluster_size)) return Status::image_invalid;
    if (!readable(l1_offset, l1_size * kEntryBytes)) return Status::image_invalid;
    // The active L1 table must cover the whole virtual disk.
    const uint32_t l2_bits = cluster_bits - ((incompatible & kIncompatExtendedL2) ? 4 : 3);
    const uint64_t size = load_be64(h + kHdrSize);
    const uint64_t l1_needed = (size >> (cluster_bits + l2_bits)) + ((size & ((uint64_t(1) << (cluster_bits + l2_bits)) - 1)) != 0);
    if (l1_size < l1_needed) return Status::image_invalid;

    const uint64_t reftable_clusters = load_be32(h + kHdrRefcountTableClusters);
    if (reftable_clusters == 0 || reftable_clusters > kMaxRefcountTableSize / cluster_size) {
        return Status::image_invalid;
    }
    const uint64_t reftable_offset = load_be64(h + kHdrRefcountTableOffset);
    if (!table_offset_ok(reftable_offset, reftable_clusters, cluster_size, cluster_size)) return Status::image_invalid;
    if (!readable(reftable_offset, reftable_clusters * cluster_size)) return Status::image_invalid;
    const uint32_t snapshots = load_be32(h + kHdrNbSnapshots);
    if (snapshots > kMaxSnapshots) return Status::image_invalid;
    const uint64_t snapshots_offset = load_be64(h + kHdrSnapshotsOffset);
    if (!table_offset_ok(snapshots_offset, snapshots, kSnapshotHeaderBytes, cluster_size)) {
        return Status::image_invalid;
    }
    // Only the first snapshot header's place is known without reading it.
    if (snapshots > 0 && !readable(snapshots_offset, kSnapshotHeaderBytes)) return Status::image_invalid;

    // qemu counts the disk in whole sectors.
    out.virtual_size = size & ~(kSectorSize - 1);
    out.has_cid = false;
    out.cid = 0;
    return kOk;
}

}  // namespace instar::formats
