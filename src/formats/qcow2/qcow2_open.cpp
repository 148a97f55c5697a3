#include "formats/qcow2/qcow2_open.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

// qcow2_validate_table: the table's size under qemu's cap, its end
// representable as a signed offset, its start cluster-aligned (even when
// it has no entries).
bool table_ok(uint64_t offset, uint64_t entries, uint64_t entry_bytes, uint64_t max_bytes, uint64_t cluster_size) {
    if (entries > max_bytes / entry_bytes) return false;
    if (kInt64Max - entries * entry_bytes < offset) return false;
    return (offset & (cluster_size - 1)) == 0;
}

}  // namespace

bool read_allowed(uint64_t offset, uint64_t bytes) {
    return offset <= kBlockMaxLength && bytes <= kBlockMaxLength - offset;
}

Status read_header(ImageSource& src, Header& out) {
    uint8_t h[kHeaderV3Length];
    if (!src.read(0, h, sizeof(h))) return Status::read_failed;

    if (load_be32(h + kHdrMagic) != kMagic) return Status::image_invalid;
    out.version = load_be32(h + kHdrVersion);
    // Version 1 is the older qcow format; qemu's qcow2 driver still says
    // "unsupported version" for it, but no qcow2 image has it.
    if (out.version < 2) return Status::image_invalid;
    if (out.version > 3) return Status::unsupported_feature;

    out.cluster_bits = load_be32(h + kHdrClusterBits);
    if (out.cluster_bits < kMinClusterBits || out.cluster_bits > kMaxClusterBits) return Status::image_invalid;
    out.cluster_size = uint64_t(1) << out.cluster_bits;

    out.backing_file_offset = load_be64(h + kHdrBackingFileOffset);
    out.backing_file_size = load_be32(h + kHdrBackingFileSize);
    out.size = load_be64(h + kHdrSize);
    out.crypt_method = load_be32(h + kHdrCryptMethod);
    out.l1_size = load_be32(h + kHdrL1Size);
    out.l1_table_offset = load_be64(h + kHdrL1TableOffset);
    out.refcount_table_offset = load_be64(h + kHdrRefcountTableOffset);
    out.refcount_table_clusters = load_be32(h + kHdrRefcountTableClusters);
    out.nb_snapshots = load_be32(h + kHdrNbSnapshots);
    out.snapshots_offset = load_be64(h + kHdrSnapshotsOffset);

    if (out.version == 2) {
        // Whatever lies after a version 2 header (extensions, usually) is
        // not read as version 3 fields.
        out.incompatible_features = 0;
        out.compatible_features = 0;
        out.autoclear_features = 0;
        out.refcount_order = 4;
        out.header_length = uint32_t(kHeaderV2Length);
    } else {
        out.incompatible_features = load_be64(h + kHdrIncompatibleFeatures);
        out.compatible_features = load_be64(h + kHdrCompatibleFeatures);
        out.autoclear_features = load_be64(h + kHdrAutoclearFeatures);
        out.refcount_order = load_be32(h + kHdrRefcountOrder);
        out.header_length = load_be32(h + kHdrHeaderLength);
        if (out.header_length < kHeaderV3MinLength) return Status::image_invalid;
    }
    if (out.header_length > out.cluster_size) return Status::image_invalid;
    if (out.backing_file_offset > out.cluster_size) return Status::image_invalid;

    // The type byte exists only in headers long enough to hold it, and
    // must agree with its feature bit.
    out.compression_type = out.header_length > kHdrCompressionType ? h[kHdrCompressionType] : kCompressionZlib;
    if (out.compression_type > kCompressionZstd) return Status::unsupported_feature;
    if ((out.compression_type != kCompressionZlib) != ((out.incompatible_features & kIncompatCompression) != 0)) {
        return Status::image_invalid;
    }
    if (out.incompatible_features & ~kIncompatKnownMask) return Status::unsupported_feature;

    const bool extended_l2 = (out.incompatible_features & kIncompatExtendedL2) != 0;
    // Subclusters must still be whole sectors.
    if (extended_l2 && out.cluster_bits < kMinExtendedL2ClusterBits) return Status::image_invalid;
    if (out.refcount_order > kMaxRefcountOrder) return Status::image_invalid;

    if (out.refcount_table_clusters == 0) return Status::image_invalid;
    if (!table_ok(out.refcount_table_offset, out.refcount_table_clusters, out.cluster_size, kMaxRefcountTableSize,
                  out.cluster_size)) {
        return Status::image_invalid;
    }
    if (!table_ok(out.snapshots_offset, out.nb_snapshots, kSnapshotHeaderBytes,
                  kSnapshotHeaderBytes * kMaxSnapshots, out.cluster_size)) {
        return Status::image_invalid;
    }
    if (!table_ok(out.l1_table_offset, out.l1_size, kEntryBytes, kMaxL1Bytes, out.cluster_size)) {
        return Status::image_invalid;
    }
    // The active L1 table must cover the whole virtual disk. (qemu rounds
    // the size up in a way that wraps for sizes near 2^64; it refuses
    // those later, when it cannot report the disk's length.)
    const uint32_t l1_shift = out.cluster_bits + out.cluster_bits - (extended_l2 ? 4 : 3);
    const uint64_t l1_needed = (out.size >> l1_shift) + ((out.size & ((uint64_t(1) << l1_shift) - 1)) != 0);
    if (out.l1_size < l1_needed) return Status::image_invalid;
    if (out.l1_size > 0 && !read_allowed(out.l1_table_offset, uint64_t(out.l1_size) * kEntryBytes)) {
        return Status::image_invalid;
    }

    if (out.crypt_method > kCryptMethodMax) return Status::image_invalid;
    if (!read_allowed(out.refcount_table_offset, uint64_t(out.refcount_table_clusters) << out.cluster_bits)) {
        return Status::image_invalid;
    }

    // The backing file name lies inside the first cluster and is at most
    // 1023 bytes; without an offset there is no name, whatever the size.
    if (out.backing_file_offset != 0 && (out.backing_file_size > kBackingNameMax ||
                                         out.backing_file_size > out.cluster_size - out.backing_file_offset)) {
        return Status::image_invalid;
    }
    if (out.nb_snapshots > 0 && !read_allowed(out.snapshots_offset, kSnapshotHeaderBytes)) return Status::image_invalid;
    return kOk;
}

}  // namespace instar::formats::qcow2
