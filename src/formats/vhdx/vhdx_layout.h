// On-disk layout of VHDX images (MS VHDX spec v1.00) as qemu 7.2 writes and
// reads them. All multi-byte values are little-endian; GUIDs are stored in
// Microsoft's mixed-endian form and kept here as their on-disk bytes.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::vhdx {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kTiB = 1024 * 1024 * kMiB;

inline constexpr size_t kGuidSize = 16;
using Guid = uint8_t[kGuidSize];

// ---- Header section: the first MiB, in 64 KiB blocks.
inline constexpr uint64_t kHeaderBlockSize = 64 * kKiB;
inline constexpr uint64_t kFileIdOffset = 0;
inline constexpr uint64_t kHeader1Offset = 1 * kHeaderBlockSize;
inline constexpr uint64_t kHeader2Offset = 2 * kHeaderBlockSize;
inline constexpr uint64_t kRegionTable1Offset = 3 * kHeaderBlockSize;
inline constexpr uint64_t kRegionTable2Offset = 4 * kHeaderBlockSize;
inline constexpr uint64_t kHeaderSectionEnd = 1 * kMiB;

// File identifier: signature, then an optional UTF-16LE creator string.
inline constexpr uint8_t kFileSignature[8] = {'v', 'h', 'd', 'x', 'f', 'i', 'l', 'e'};
inline constexpr size_t kFileIdCreatorOffset = 8;
// What qemu-img 7.2 (QEMU_VERSION of the Debian bookworm build) writes.
inline constexpr char kCreator[] = "QEMU v7.2.22";

// Header: the checksum covers 4 KiB although only 80 bytes are defined.
inline constexpr size_t kHeaderChecksummed = 4 * kKiB;
inline constexpr size_t kHeaderStructSize = 80;
inline constexpr uint8_t kHeaderSignature[4] = {'h', 'e', 'a', 'd'};
inline constexpr size_t kHdSignature = 0;
inline constexpr size_t kHdChecksum = 4;
inline constexpr size_t kHdSequence = 8;
inline constexpr size_t kHdFileWriteGuid = 16;
inline constexpr size_t kHdDataWriteGuid = 32;
inline constexpr size_t kHdLogGuid = 48;
inline constexpr size_t kHdLogVersion = 64;
inline constexpr size_t kHdVersion = 66;
inline constexpr size_t kHdLogLength = 68;
inline constexpr size_t kHdLogOffset = 72;
inline constexpr uint16_t kHeaderVersion = 1;
inline constexpr uint16_t kLogVersion = 0;

// Region table: a 16-byte header, then 32-byte entries; the checksum covers
// the whole 64 KiB block.
inline constexpr size_t kRegionTableSize = kHeaderBlockSize;
inline constexpr uint8_t kRegionSignature[4] = {'r', 'e', 'g', 'i'};
inline constexpr size_t kRtSignature = 0;
inline constexpr size_t kRtChecksum = 4;
inline constexpr size_t kRtEntryCount = 8;
inline constexpr size_t kRtHeaderSize = 16;
inline constexpr size_t kRtEntrySize = 32;
inline constexpr size_t kReGuid = 0;
inline constexpr size_t kReFileOffset = 16;
inline constexpr size_t kReLength = 24;
inline constexpr size_t kReDataBits = 28;
inline constexpr uint32_t kRegionEntryRequired = 0x1;
inline constexpr uint32_t kRegionEntriesMax = 2047;

inline constexpr Guid kBatRegionGuid = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                        0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
inline constexpr Guid kMetadataRegionGuid = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                             0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};

// ---- Log: a circular buffer of 4 KiB sectors holding entries. An entry
// is a header sector (64-byte header, then 32-byte descriptors), further
// descriptor sectors if needed, then one data sector per data descriptor.
inline constexpr uint64_t kLogUnit = 1 * kMiB;  // log offset and length granularity
inline constexpr uint64_t kDefaultLogSize = 1 * kMiB;
inline constexpr uint32_t kLogSectorSize = 4096;
inline constexpr uint8_t kLogEntrySignature[4] = {'l', 'o', 'g', 'e'};
inline constexpr size_t kLeSignature = 0;
inline constexpr size_t kLeChecksum = 4;
inline constexpr size_t kLeEntryLength = 8;
inline constexpr size_t kLeTail = 12;
inline constexpr size_t kLeSequence = 16;
inline constexpr size_t kLeDescriptorCount = 24;
inline constexpr size_t kLeLogGuid = 32;
inline constexpr size_t kLeFlushedFileOffset = 48;
inline constexpr size_t kLeLastFileOffset = 56;
inline constexpr size_t kLogEntryHeaderSize = 64;
inline constexpr uint8_t kLogZeroSignature[4] = {'z', 'e', 'r', 'o'};
inline constexpr uint8_t kLogDescSignature[4] = {'d', 'e', 's', 'c'};
inline constexpr size_t kLdSignature = 0;
inline constexpr size_t kLdZeroLength = 8;  // zero descriptors only
inline constexpr size_t kLdFileOffset = 16;
inline constexpr size_t kLdSequence = 24;
inline constexpr size_t kLogDescriptorSize = 32;
// A data descriptor holds the first 8 and the last 4 bytes of the sector
// it describes; its data sector holds the rest, between the two halves of
// the entry's sequence number.
inline constexpr size_t kLdTrailingBytes = 4;
inline constexpr size_t kLdLeadingBytes = 8;
inline constexpr size_t kLogLeadingBytes = 8;
inline constexpr size_t kLogTrailingBytes = 4;
inline constexpr uint8_t kLogDataSignature[4] = {'d', 'a', 't', 'a'};
inline constexpr size_t kLdsSignature = 0;
inline constexpr size_t kLdsSequenceHigh = 4;
inline constexpr size_t kLdsData = 8;
inline constexpr size_t kLdsSequenceLow = kLogSectorSize - 4;

// ---- Metadata region: a table (at most 64 KiB), items from 64 KiB on.
inline constexpr uint64_t kMetadataRegionSize = 1 * kMiB;
inline constexpr size_t kMetadataTableSize = 64 * kKiB;
inline constexpr uint32_t kMetadataItemsOffset = 64 * kKiB;
inline constexpr uint8_t kMetadataSignature[8] = {'m', 'e', 't', 'a', 'd', 'a', 't', 'a'};
inline constexpr size_t kMtSignature = 0;
inline constexpr size_t kMtEntryCount = 10;
inline constexpr size_t kMtHeaderSize = 32;
inline constexpr size_t kMtEntrySize = 32;
inline constexpr size_t kMeItemId = 0;
inline constexpr size_t kMeOffset = 16;
inline constexpr size_t kMeLength = 20;
inline constexpr size_t kMeDataBits = 24;
inline constexpr uint32_t kMetaIsVirtualDisk = 0x2;
inline constexpr uint32_t kMetaIsRequired = 0x4;

inline constexpr Guid kFileParametersGuid = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                             0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};
inline constexpr Guid kVirtualDiskSizeGuid = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                              0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
inline constexpr Guid kPage83Guid = {0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
                                     0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46};
inline constexpr Guid kLogicalSectorSizeGuid = {0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
                                                0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f};
inline constexpr Guid kPhysicalSectorSizeGuid = {0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
                                                 0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56};
inline constexpr Guid kParentLocatorGuid = {0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
                                            0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c};

// Metadata item sizes.
inline constexpr uint32_t kFileParametersSize = 8;  // block size, flags
inline constexpr uint32_t kVirtualDiskSizeSize = 8;
inline constexpr uint32_t kPage83Size = kGuidSize;
inline constexpr uint32_t kSectorSizeItemSize = 4;
inline constexpr uint32_t kFileParamLeaveBlocksAllocated = 0x1;  // fixed image
inline constexpr uint32_t kFileParamHasParent = 0x2;

// ---- Payload geometry
inline constexpr uint32_t kLogicalSectorSize = 512;
inline constexpr uint32_t kMinBlockSize = 1 * kMiB;
inline constexpr uint32_t kMaxBlockSize = 256 * kMiB;
inline constexpr uint64_t kMaxImageSize = 64 * kTiB;
// One sector-bitmap block covers 2^23 sectors: this many payload blocks
// share each bitmap entry in the BAT ("chunk ratio").
inline constexpr uint64_t kMaxSectorsPerBitmapBlock = 1u << 23;

// ---- BAT entries: state in the low 3 bits, file offset in MiB units above.
inline constexpr size_t kBatEntrySize = 8;
inline constexpr uint64_t kBatStateMask = 0x7;
inline constexpr uint64_t kBatOffsetMask = 0xFFFFFFFFFFF00000ull;
// Payload block states: the spec's, and UNMAPPED as the v0.95 draft
// numbered it, which qemu still reads. 4 is none.
inline constexpr uint64_t kBatNotPresent = 0;
inline constexpr uint64_t kBatUndefined = 1;
inline constexpr uint64_t kBatZero = 2;
inline constexpr uint64_t kBatUnmapped = 3;
inline constexpr uint64_t kBatUnmappedV095 = 5;
inline constexpr uint64_t kBatFullyPresent = 6;
inline constexpr uint64_t kBatPartiallyPresent = 7;  // differencing images only

// qemu leaves this much room after the BAT (metadata plus 4 MiB to grow)
// before the first payload block.
inline constexpr uint64_t kPayloadGap = 5 * kMiB;

}  // namespace instar::formats::vhdx
