// On-disk facts of the qcow2 format (docs/interop/qcow2.txt) and the limits
// qemu 7.2 enforces on them. Every qcow2 constant lives here, once.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"

// Header field offsets (all fields big-endian).
inline constexpr size_t kHdrMagic = 0;
inline constexpr size_t kHdrVersion = 4;
inline constexpr size_t kHdrBackingFileOffset = 8;
inline constexpr size_t kHdrBackingFileSize = 16;
inline constexpr size_t kHdrClusterBits = 20;
inline constexpr size_t kHdrSize = 24;
inline constexpr size_t kHdrCryptMethod = 32;
inline constexpr size_t kHdrL1Size = 36;
inline constexpr size_t kHdrL1TableOffset = 40;
inline constexpr size_t kHdrRefcountTableOffset = 48;
inline constexpr size_t kHdrRefcountTableClusters = 56;
inline constexpr size_t kHdrNbSnapshots = 60;
inline constexpr size_t kHdrSnapshotsOffset = 64;
inline constexpr size_t kHdrIncompatibleFeatures = 72;
inline constexpr size_t kHdrCompatibleFeatures = 80;
inline constexpr size_t kHdrAutoclearFeatures = 88;
inline constexpr size_t kHdrRefcountOrder = 96;
inline constexpr size_t kHdrHeaderLength = 100;
inline constexpr size_t kHdrCompressionType = 104;

// A version 2 header stops before the feature bitmaps; a version 3 header
// without the compression type byte is 104 bytes; qemu writes 112 (the
// compression type byte padded to a multiple of 8).
inline constexpr size_t kHeaderV2Length = 72;
inline constexpr size_t kHeaderV3MinLength = 104;
inline constexpr size_t kHeaderV3Length = 112;

// Feature bits.
inline constexpr uint64_t kIncompatDirty = 1ull << 0;
inline constexpr uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kIncompatDataFile = 1ull << 2;
inline constexpr uint64_t kIncompatCompression = 1ull << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1ull << 4;
inline constexpr uint64_t kIncompatKnownMask = (1ull << 5) - 1;
inline constexpr uint64_t kCompatLazyRefcounts = 1ull << 0;
inline constexpr uint64_t kAutoclearBitmaps = 1ull << 0;
inline constexpr uint64_t kAutoclearDataFileRaw = 1ull << 1;

inline constexpr uint8_t kCompressionZlib = 0;
inline constexpr uint8_t kCompressionZstd = 1;

inline constexpr uint32_t kCryptNone = 0;
inline constexpr uint32_t kCryptAes = 1;
inline constexpr uint32_t kCryptLuks = 2;
inline constexpr uint32_t kCryptMethodMax = kCryptLuks;

// Header extensions: 4-byte type, 4-byte length, data padded to 8 bytes.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtCryptoHeader = 0x0537be77;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtDataFile = 0x44415441;
inline constexpr size_t kExtHeaderBytes = 8;
inline constexpr size_t kExtAlign = 8;

// Fixed payload sizes of two extensions: crypto header (offset, length);
// bitmaps (count, reserved, directory size, directory offset).
inline constexpr uint32_t kCryptoHeaderExtBytes = 16;
inline constexpr size_t kCryptoExtOffset = 0;
inline constexpr size_t kCryptoExtLength = 8;
inline constexpr uint32_t kBitmapsExtBytes = 24;
inline constexpr size_t kBitmapsExtCount = 0;
inline constexpr size_t kBitmapsExtReserved = 4;
inline constexpr size_t kBitmapsExtDirSize = 8;
inline constexpr size_t kBitmapsExtDirOffset = 16;

// Bitmap directory entries: a fixed part (big-endian), extra data, the
// name, the next entry starting on a multiple of 8.
inline constexpr size_t kBmeTableOffset = 0;
inline constexpr size_t kBmeTableSize = 8;  // 8-byte entries
inline constexpr size_t kBmeFlags = 12;
inline constexpr size_t kBmeType = 16;
inline constexpr size_t kBmeGranularityBits = 17;
inline constexpr size_t kBmeNameSize = 18;
inline constexpr size_t kBmeExtraDataSize = 20;
inline constexpr size_t kBmeHeaderBytes = 24;
inline constexpr uint32_t kBmeFlagInUse = 1u << 0;
inline constexpr uint32_t kBmeFlagAuto = 1u << 1;
inline constexpr uint32_t kBmeReservedFlags = ~(kBmeFlagInUse | kBmeFlagAuto);
inline constexpr uint8_t kBmeTypeDirtyTracking = 1;
// Bitmap table entries: a data cluster's offset, or "all ones" without one.
inline constexpr uint64_t kBmeTableEntryReserved = 0xff000000000001feull;
inline constexpr uint64_t kBmeTableEntryOffset = 0x00fffffffffffe00ull;
inline constexpr uint64_t kBmeTableEntryAllOnes = 1;

// Feature-name table entries: type byte, bit number byte, 46 name bytes.
inline constexpr size_t kFeatureEntryBytes = 48;
inline constexpr size_t kFeatureNameBytes = 46;
inline constexpr uint8_t kFeatureIncompatible = 0;
inline constexpr uint8_t kFeatureCompatible = 1;
inline constexpr uint8_t kFeatureAutoclear = 2;

// qemu leaves the feature-name table out for clusters this small or smaller
// so that a backing file name still fits into a 512-byte header cluster.
inline constexpr uint64_t kFeatureTableOmittedUpTo = 4096;

// Table entries.
inline constexpr uint64_t kEntryBytes = 8;             // L1 and refcount table entries
inline constexpr uint64_t kL2EntryBytes = 8;
inline constexpr uint64_t kL2ExtendedEntryBytes = 16;  // entry + subcluster bitmap
inline constexpr uint32_t kSubclustersPerCluster = 32;
inline constexpr uint64_t kOflagCopied = 1ull << 63;   // refcount is exactly one
inline constexpr uint64_t kL1OffsetMask = 0x00fffffffffffe00ull;  // L2 table offset in an L1 entry

// Standard cluster descriptors (L2 entries): the cluster's host offset, and
// in version 3 without extended L2 entries bit 0, "reads as zeroes" (with
// or without a cluster behind it). Version 2 has no zero flag: qemu fails
// the read of an entry that has it. Reserved bits are ignored on reading.
inline constexpr uint64_t kOflagCompressed = 1ull << 62;
inline constexpr uint64_t kOflagZero = 1ull << 0;
inline constexpr uint64_t kL2OffsetMask = 0x00fffffffffffe00ull;
// Extended L2 entries: the descriptor, then a 64-bit bitmap whose bit i
// says subcluster i is allocated and bit 32 + i that it reads as zeroes.
inline constexpr uint32_t kL2BitmapZeroShift = 32;
inline constexpr uint64_t kL2BitmapAllocMask = 0xffffffffull;
// Compressed cluster descriptors: with x = 62 - (cluster_bits - 8), the
// host offset in bits 0..x-1 (any byte), then the number of 512-byte
// sectors it spans, less one, in bits x..61.
inline constexpr uint32_t kCompressedFieldsBits = 62;
inline constexpr uint32_t kCompressedSizeBitsFromClusterBits = 8;
inline constexpr uint64_t kCompressedSectorSize = 512;

// Cluster sizes qemu accepts, as log2.
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 21;
// Extended L2 needs subclusters of at least 512 bytes.
inline constexpr uint32_t kMinExtendedL2ClusterBits = 14;
inline constexpr uint32_t kMaxRefcountOrder = 6;       // 64-bit refcounts

// qemu 7.2 limits (block/qcow2.h).
inline constexpr uint64_t kMaxL1Bytes = 32ull << 20;        // QCOW_MAX_L1_SIZE
inline constexpr uint64_t kMaxRefcountTableSize = 8ull << 20;  // QCOW_MAX_REFTABLE_SIZE
inline constexpr size_t kBackingNameMax = 1023;             // bytes qemu stores
inline constexpr uint32_t kMaxSnapshots = 65536;            // QCOW_MAX_SNAPSHOTS
inline constexpr uint64_t kSnapshotHeaderBytes = 40;        // fixed part of a snapshot table entry
inline constexpr uint32_t kMaxSnapshotExtraData = 1024;     // QCOW_MAX_SNAPSHOT_EXTRA_DATA
inline constexpr uint64_t kMaxSnapshotsSize = 1024ull * kMaxSnapshots;  // QCOW_MAX_SNAPSHOTS_SIZE
inline constexpr size_t kBackingFormatMax = 15;             // bytes (bs->backing_format is 16 with the NUL)
inline constexpr uint32_t kMaxBitmaps = 65535;              // QCOW2_MAX_BITMAPS
inline constexpr uint64_t kMaxBitmapDirectorySize = 1024ull * kMaxBitmaps;
// qemu's limits on one bitmap (block/qcow2-bitmap.c, BME_*).
inline constexpr uint32_t kBmeMinGranularityBits = 9;
inline constexpr uint32_t kBmeMaxGranularityBits = 31;
inline constexpr uint32_t kBmeMaxNameSize = 1023;
inline constexpr uint32_t kBmeMaxTableSize = 0x8000000;     // entries
inline constexpr uint64_t kBmeMaxPhysSize = 0x20000000;     // bytes of bitmap data
// Bits qemu's in-memory bitmap can have on a 64-bit host (an assertion
// in hbitmap_alloc ends qemu-img beyond it).
inline constexpr uint64_t kHbitmapMaxBits = 1ull << 41;
// What `qemu-img info` shows of a snapshot's id and name: they pass
// through QEMUSnapshotInfo's id_str[128] and name[256].
inline constexpr size_t kSnapshotIdShownMax = 127;
inline constexpr size_t kSnapshotNameShownMax = 255;

// Snapshot table entry: fixed part (big-endian), then extra data, id and
// name, the next entry starting on a multiple of 8.
inline constexpr size_t kSnapL1TableOffset = 0;
inline constexpr size_t kSnapL1Size = 8;
inline constexpr size_t kSnapIdSize = 12;
inline constexpr size_t kSnapNameSize = 14;
inline constexpr size_t kSnapDateSec = 16;
inline constexpr size_t kSnapDateNsec = 20;
inline constexpr size_t kSnapVmClockNsec = 24;
inline constexpr size_t kSnapVmStateSize = 32;
inline constexpr size_t kSnapExtraDataSize = 36;
// Extra data fields, each present when the extra data reaches its end.
inline constexpr size_t kSnapExtraVmStateSize = 0;
inline constexpr size_t kSnapExtraDiskSize = 8;
inline constexpr size_t kSnapExtraIcount = 16;
inline constexpr size_t kSnapExtraKnownBytes = 24;
inline constexpr uint64_t kMaxClusterOffset = (1ull << 56) - 1;  // QCOW_MAX_CLUSTER_OFFSET

// The block layer's limits on one request (include/block/block-common.h).
inline constexpr uint64_t kSectorSize = 512;
inline constexpr uint64_t kIntMax = 0x7fffffff;
inline constexpr uint64_t kInt64Max = 0x7fffffffffffffffull;  // byte offsets are signed
inline constexpr uint64_t kRequestMaxBytes = kIntMax & ~(kSectorSize - 1);
// No request may reach past this offset (BDRV_MAX_LENGTH).
inline constexpr uint64_t kBlockMaxLength = 0x7fffffffc0000000ull;

// The image qemu starts from: header, refcount table, one refcount block.
inline constexpr uint64_t kInitialClusters = 3;

}  // namespace instar::formats::qcow2
