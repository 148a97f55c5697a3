// On-disk constants of the VMDK "hosted sparse extent" (the KDMV format of
// monolithicSparse and streamOptimized images), and where qemu-img 7.2 puts
// each table when it creates one.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::vmdk {

inline constexpr uint64_t kSectorSize = 512;

// The first four bytes of a file, as they appear on disk.
inline constexpr uint8_t kSparseMagic[4] = {'K', 'D', 'M', 'V'};
inline constexpr uint8_t kCowdMagic[4] = {'C', 'O', 'W', 'D'};  // VMDK3 / ESX 2.x
inline constexpr size_t kMagicBytes = 4;

// Header fields: little-endian, packed, offsets from the start of the file
// (the magic occupies bytes 0..3).
inline constexpr size_t kHdrVersion = 4;            // u32
inline constexpr size_t kHdrFlags = 8;              // u32
inline constexpr size_t kHdrCapacity = 12;          // u64, sectors
inline constexpr size_t kHdrGranularity = 20;       // u64, sectors per grain
inline constexpr size_t kHdrDescOffset = 28;        // u64, sectors
inline constexpr size_t kHdrDescSize = 36;          // u64, sectors
inline constexpr size_t kHdrGtesPerGt = 44;         // u32
inline constexpr size_t kHdrRgdOffset = 48;         // u64, sectors
inline constexpr size_t kHdrGdOffset = 56;          // u64, sectors
inline constexpr size_t kHdrGrainOffset = 64;       // u64, sectors
inline constexpr size_t kHdrCheckBytes = 73;        // 4 bytes, after a 1-byte filler
inline constexpr size_t kHdrCompressAlgorithm = 77; // u16
inline constexpr size_t kHeaderBytes = 79;

// Lets a reader notice a file mangled by a text-mode transfer.
inline constexpr uint8_t kCheckBytes[4] = {'\n', ' ', '\r', '\n'};

inline constexpr uint32_t kFlagNewlineDetect = 1u << 0;
inline constexpr uint32_t kFlagRedundantGd = 1u << 1;
inline constexpr uint32_t kFlagZeroedGrain = 1u << 2;
inline constexpr uint32_t kFlagCompressed = 1u << 16;
inline constexpr uint32_t kFlagMarkers = 1u << 17;

inline constexpr uint16_t kCompressionNone = 0;
inline constexpr uint16_t kCompressionDeflate = 1;

// Header versions qemu writes: 3 for streamOptimized, 2 when the zeroed-grain
// feature is on, 1 otherwise. Readers refuse anything above kMaxVersion.
inline constexpr uint32_t kVersionPlain = 1;
inline constexpr uint32_t kVersionZeroedGrain = 2;
inline constexpr uint32_t kVersionStream = 3;
inline constexpr uint32_t kMaxVersion = 3;

// gd_offset of a stream whose directory follows the data (the real header
// is then the footer near the end of the file).
inline constexpr uint64_t kGdAtEnd = ~uint64_t(0);

// The embedded descriptor: always read from sector 1, 20 sectors long.
inline constexpr uint64_t kDescriptorSector = 1;
inline constexpr uint64_t kDescriptorSectors = 20;
inline constexpr size_t kDescriptorBytes = size_t(kDescriptorSectors * kSectorSize);

// Grain-table entries per grain table, as written; also the most a reader
// accepts.
inline constexpr uint32_t kGtesPerGt = 512;
inline constexpr uint32_t kGteBytes = 4;
// A grain-directory entry: the 32-bit sector number of a grain table.
inline constexpr uint32_t kGdeBytes = 4;

// Reader limits (qemu refuses images beyond them).
inline constexpr uint64_t kMaxGrainSectors = 0x200000;
inline constexpr uint64_t kMaxGdEntries = 32u * 1024 * 1024;

// Stream markers around the footer of a gd_offset == kGdAtEnd image: the
// footer marker sector, the footer (a header copy), the end-of-stream marker.
inline constexpr uint64_t kFooterAreaBytes = 3 * kSectorSize;
inline constexpr size_t kMarkerValue = 0;  // u64
inline constexpr size_t kMarkerSize = 8;   // u32
inline constexpr size_t kMarkerType = 12;  // u32
inline constexpr uint32_t kMarkerEndOfStream = 0;
inline constexpr uint32_t kMarkerFooter = 3;

// streamOptimized: the marker before each compressed grain, its first
// guest sector (u64 at kMarkerValue) and the stream's length (u32 at
// kMarkerSize), then the zlib stream itself.
inline constexpr size_t kGrainMarkerBytes = 12;

// A grain table entry that means "reads as zeroes" (VMDK_GTE_ZEROED, with
// the zeroed-grain flag).
inline constexpr uint32_t kGteZeroed = 1;

// qemu allocates a grain only below this sector (VMDK_EXTENT_MAX_SECTORS):
// a grain table entry is a 32-bit sector number.
inline constexpr uint64_t kMaxGrainSector = uint64_t(1) << 32;

// Where each table of a new sparse extent lives, in sectors.
struct SparseLayout {
    uint64_t capacity;      // virtual sectors
    uint64_t grain_sectors;
    uint64_t grains;
    uint64_t gt_count;      // grain tables, = grain directory entries
    uint64_t gt_sectors;    // one grain table
    uint64_t gd_sectors;    // one grain directory
    uint64_t rgd_offset;    // redundant directory, its tables follow it
    uint64_t gd_offset;     // primary directory, its tables follow it
    uint64_t grain_offset;  // first data grain = end of metadata = file size
};

// Places the tables as qemu does: descriptor, redundant directory and its
// tables, primary directory and its tables, then data from the next grain
// boundary. False when a grain-directory entry (a 32-bit sector number)
// could not address the tables, or the grain count exceeds the 32 bits
// qemu computes it in.
bool compute_sparse_layout(uint64_t capacity_sectors, uint64_t grain_sectors, SparseLayout& out);

// The sector of grain table `index` of the directory at `dir_sector`
// (l.gd_offset or l.rgd_offset): each directory's tables follow it.
constexpr uint64_t grain_table_sector(const SparseLayout& l, uint64_t dir_sector, uint64_t index) {
    return dir_sector + l.gd_sectors + index * l.gt_sectors;
}

}  // namespace instar::formats::vmdk
