#include "formats/vhdx/vhdx_structs.h"

#include "formats/common/endian.h"
#include "formats/vhdx/crc32c.h"

namespace instar::formats::vhdx {

namespace {

void put_guid(uint8_t* at, const uint8_t* guid) { __builtin_memcpy(at, guid, kGuidSize); }

void put_region_entry(uint8_t* e, const uint8_t* guid, uint64_t offset, uint32_t length) {
    put_guid(e + kReGuid, guid);
    store_le64(e + kReFileOffset, offset);
    store_le32(e + kReLength, length);
    // qemu does not mark its regions required.
    store_le32(e + kReDataBits, 0);
}

struct MetadataItem {
    const uint8_t* guid;
    uint32_t length;
    uint32_t flags;
};

// Order and flags as qemu writes them: file parameters first (the only
// item not about the virtual disk), items packed back to back.
constexpr MetadataItem kItems[kMetadataEntries] = {
    {kFileParametersGuid, kFileParametersSize, kMetaIsRequired},
    {kVirtualDiskSizeGuid, kVirtualDiskSizeSize, kMetaIsRequired | kMetaIsVirtualDisk},
    {kPage83Guid, kPage83Size, kMetaIsRequired | kMetaIsVirtualDisk},
    {kLogicalSectorSizeGuid, kSectorSizeItemSize, kMetaIsRequired | kMetaIsVirtualDisk},
    {kPhysicalSectorSizeGuid, kSectorSizeItemSize, kMetaIsRequired | kMetaIsVirtualDisk},
};

}  // namespace

uint32_t block_checksum(const uint8_t* data, size_t len, uint64_t block_size, size_t checksum_at) {
    Crc32c crc;
    crc.update(data, checksum_at);
    crc.update_zeros(4);
    crc.update(data + checksum_at + 4, len - checksum_at - 4);
    crc.update_zeros(block_size - len);
    return crc.value();
}

void build_file_identifier(uint8_t* out) {
    __builtin_memset(out, 0, kFileIdBytes);
    __builtin_memcpy(out, kFileSignature, sizeof kFileSignature);
    for (size_t i = 0; i + 1 < sizeof kCreator; ++i) {
        store_le16(out + kFileIdCreatorOffset + 2 * i, uint16_t(uint8_t(kCreator[i])));
    }
}

void build_header(const HeaderSpec& spec, uint8_t* out) {
    __builtin_memset(out, 0, kHeaderStructSize);
    __builtin_memcpy(out + kHdSignature, kHeaderSignature, sizeof kHeaderSignature);
    store_le64(out + kHdSequence, spec.sequence);
    put_guid(out + kHdFileWriteGuid, spec.file_write_guid);
    put_guid(out + kHdDataWriteGuid, spec.data_write_guid);
    // Log GUID stays zero: the new image has no log to replay.
    store_le16(out + kHdLogVersion, kLogVersion);
    store_le16(out + kHdVersion, kHeaderVersion);
    store_le32(out + kHdLogLength, spec.log_length);
    store_le64(out + kHdLogOffset, spec.log_offset);
    store_le32(out + kHdChecksum, block_checksum(out, kHeaderStructSize, kHeaderChecksummed, kHdChecksum));
}

void build_region_table(const Plan& plan, uint8_t* out) {
    __builtin_memset(out, 0, kRegionTableBytes);
    __builtin_memcpy(out + kRtSignature, kRegionSignature, sizeof kRegionSignature);
    store_le32(out + kRtEntryCount, 2);
    put_region_entry(out + kRtHeaderSize, kBatRegionGuid, plan.bat_offset, plan.bat_length);
    put_region_entry(out + kRtHeaderSize + kRtEntrySize, kMetadataRegionGuid, plan.metadata_offset,
                     uint32_t(kMetadataRegionSize));
    store_le32(out + kRtChecksum, block_checksum(out, kRegionTableBytes, kRegionTableSize, kRtChecksum));
}

void build_metadata_table(uint8_t* out) {
    __builtin_memset(out, 0, kMetadataTableBytes);
    __builtin_memcpy(out + kMtSignature, kMetadataSignature, sizeof kMetadataSignature);
    store_le16(out + kMtEntryCount, uint16_t(kMetadataEntries));
    uint32_t item_offset = kMetadataItemsOffset;
    for (uint32_t i = 0; i < kMetadataEntries; ++i) {
        uint8_t* e = out + kMtHeaderSize + i * kMtEntrySize;
        put_guid(e + kMeItemId, kItems[i].guid);
        store_le32(e + kMeOffset, item_offset);
        store_le32(e + kMeLength, kItems[i].length);
        store_le32(e + kMeDataBits, kItems[i].flags);
        item_offset += kItems[i].length;
    }
}

void build_metadata_items(const Plan& plan, const uint8_t* page83, uint8_t* out) {
    __builtin_memset(out, 0, kMetadataItemBytes);
    uint8_t* p = out;
    store_le32(p, plan.block_size);
    store_le32(p + 4, plan.fixed ? kFileParamLeaveBlocksAllocated : 0);
    p += kFileParametersSize;
    store_le64(p, plan.disk_size);
    p += kVirtualDiskSizeSize;
    put_guid(p, page83);
    p += kPage83Size;
    store_le32(p, kLogicalSectorSize);
    p += kSectorSizeItemSize;
    // qemu reports the logical sector size as the physical one too.
    store_le32(p, kLogicalSectorSize);
}

}  // namespace instar::formats::vhdx
