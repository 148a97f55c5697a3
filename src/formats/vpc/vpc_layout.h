// On-disk layout of VHD ("vpc") images as qemu 7.2 writes and reads them:
// a 512-byte footer (at the end; dynamic images also keep a copy at offset
// 0), and for dynamic images a 1024-byte header and a BAT of big-endian
// 32-bit sector numbers (0xFFFFFFFF = block not allocated).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::vpc {

inline constexpr uint64_t kSectorSize = 512;
inline constexpr size_t kFooterSize = 512;
inline constexpr size_t kDynHeaderSize = 1024;

// Where qemu places the dynamic-image structures.
inline constexpr uint64_t kDynHeaderOffset = kFooterSize;
inline constexpr uint64_t kBatOffset = kDynHeaderOffset + kDynHeaderSize;

inline constexpr uint8_t kFooterCookie[8] = {'c', 'o', 'n', 'e', 'c', 't', 'i', 'x'};
inline constexpr uint8_t kDynHeaderCookie[8] = {'c', 'x', 's', 'p', 'a', 'r', 's', 'e'};

// Footer fields (byte offsets, big-endian values).
inline constexpr size_t kFtCookie = 0;
inline constexpr size_t kFtFeatures = 8;
inline constexpr size_t kFtVersion = 12;
inline constexpr size_t kFtDataOffset = 16;
inline constexpr size_t kFtTimestamp = 24;
inline constexpr size_t kFtCreatorApp = 28;
inline constexpr size_t kFtCreatorMajor = 32;
inline constexpr size_t kFtCreatorMinor = 34;
inline constexpr size_t kFtCreatorOs = 36;
inline constexpr size_t kFtOrigSize = 40;
inline constexpr size_t kFtCurrentSize = 48;
inline constexpr size_t kFtCylinders = 56;
inline constexpr size_t kFtHeads = 58;
inline constexpr size_t kFtSectorsPerTrack = 59;
inline constexpr size_t kFtDiskType = 60;
inline constexpr size_t kFtChecksum = 64;
inline constexpr size_t kFtUuid = 68;
inline constexpr size_t kUuidSize = 16;

// Dynamic disk header fields.
inline constexpr size_t kDhCookie = 0;
inline constexpr size_t kDhDataOffset = 8;
inline constexpr size_t kDhTableOffset = 16;
inline constexpr size_t kDhVersion = 24;
inline constexpr size_t kDhMaxTableEntries = 28;
inline constexpr size_t kDhBlockSize = 32;
inline constexpr size_t kDhChecksum = 36;

inline constexpr uint32_t kDiskTypeFixed = 2;
inline constexpr uint32_t kDiskTypeDynamic = 3;

// The spec's "reserved, must be set" feature bit.
inline constexpr uint32_t kFeaturesReserved = 0x2;
inline constexpr uint32_t kFormatVersion = 0x00010000;
inline constexpr uint32_t kDynHeaderVersion = 0x00010000;
// qemu claims to be Virtual PC 2007 (5.3) on Windows 2000.
inline constexpr uint16_t kCreatorMajor = 5;
inline constexpr uint16_t kCreatorMinor = 3;
inline constexpr uint8_t kCreatorOs[4] = {'W', 'i', '2', 'k'};
// "qemu": readers size the disk from the CHS geometry; "qem2" (force_size):
// from current_size.
inline constexpr uint8_t kCreatorAppChs[4] = {'q', 'e', 'm', 'u'};
inline constexpr uint8_t kCreatorAppSize[4] = {'q', 'e', 'm', '2'};
// The creators whose images qemu 7.2 sizes from current_size: Hyper-V,
// qemu with force_size, Disk2vhd, XenConverter, XenServer. Every other
// creator (Virtual PC, qemu, unknown ones) gets the CHS size.
inline constexpr uint8_t kCurrentSizeCreators[5][4] = {
    {'w', 'i', 'n', ' '}, {'q', 'e', 'm', '2'}, {'d', '2', 'v', ' '}, {'C', 'T', 'X', 'S'}, {'t', 'a', 'p', 0}};

// Footer data_offset of a fixed image, and the dynamic header's
// data_offset: "no next structure" (all 64 bits set, as MS tools expect).
inline constexpr uint64_t kNoNextStructure = 0xFFFFFFFFFFFFFFFFull;
inline constexpr uint32_t kBatUnallocated = 0xFFFFFFFFu;
inline constexpr uint8_t kBatFillByte = 0xFF;

// VHD timestamps count seconds from 2000-01-01 00:00:00 UTC.
inline constexpr uint64_t kVhdEpochUnixSeconds = 946684800;

// CHS limits. An image whose geometry is exactly the maximum is sized from
// current_size instead (qemu's rule for disks the geometry cannot express).
inline constexpr uint32_t kChsMaxCylinders = 65535;
inline constexpr uint32_t kChsMaxHeads = 16;
inline constexpr uint32_t kChsMaxSectorsPerTrack = 255;
inline constexpr uint64_t kMaxGeometrySectors =
    uint64_t(kChsMaxCylinders) * kChsMaxHeads * kChsMaxSectorsPerTrack;
// qemu refuses disks above 2040 GiB.
inline constexpr uint64_t kMaxSectors = 0xff000000ull;

// Each dynamic block starts with a bitmap of its sectors, in whole sectors.
inline constexpr uint64_t block_bitmap_bytes(uint64_t block_size) {
    return (block_size / (8 * kSectorSize) + kSectorSize - 1) & ~(kSectorSize - 1);
}

// Dynamic block sizes instar accepts; qemu 7.2 itself only writes 2 MiB.
inline constexpr uint32_t kDefaultBlockSize = 2u << 20;
inline constexpr uint32_t kMinBlockSize = 512u << 10;
inline constexpr uint32_t kMaxBlockSize = 256u << 20;

}  // namespace instar::formats::vpc
