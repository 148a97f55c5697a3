#include "formats/vpc/vpc_structs.h"

#include "formats/common/endian.h"
#include "formats/vpc/vpc_checksum.h"

namespace instar::formats::vpc {

void build_footer(const FooterSpec& spec, uint8_t* out) {
    __builtin_memset(out, 0, kFooterSize);
    __builtin_memcpy(out + kFtCookie, kFooterCookie, sizeof kFooterCookie);
    store_be32(out + kFtFeatures, kFeaturesReserved);
    store_be32(out + kFtVersion, kFormatVersion);
    store_be64(out + kFtDataOffset, spec.dynamic ? kDynHeaderOffset : kNoNextStructure);
    store_be32(out + kFtTimestamp, spec.timestamp);
    __builtin_memcpy(out + kFtCreatorApp, spec.force_size ? kCreatorAppSize : kCreatorAppChs, 4);
    store_be16(out + kFtCreatorMajor, kCreatorMajor);
    store_be16(out + kFtCreatorMinor, kCreatorMinor);
    __builtin_memcpy(out + kFtCreatorOs, kCreatorOs, sizeof kCreatorOs);
    store_be64(out + kFtOrigSize, spec.size_bytes);
    store_be64(out + kFtCurrentSize, spec.size_bytes);
    store_be16(out + kFtCylinders, spec.chs.cylinders);
    out[kFtHeads] = spec.chs.heads;
    out[kFtSectorsPerTrack] = spec.chs.sectors_per_track;
    store_be32(out + kFtDiskType, spec.dynamic ? kDiskTypeDynamic : kDiskTypeFixed);
    __builtin_memcpy(out + kFtUuid, spec.uuid, kUuidSize);
    store_be32(out + kFtChecksum, vhd_checksum(out, kFooterSize, kFtChecksum));
}

void build_dyn_header(uint32_t block_size, uint32_t bat_entries, uint8_t* out) {
    __builtin_memset(out, 0, kDynHeaderSize);
    __builtin_memcpy(out + kDhCookie, kDynHeaderCookie, sizeof kDynHeaderCookie);
    store_be64(out + kDhDataOffset, kNoNextStructure);
    store_be64(out + kDhTableOffset, kBatOffset);
    store_be32(out + kDhVersion, kDynHeaderVersion);
    store_be32(out + kDhMaxTableEntries, bat_entries);
    store_be32(out + kDhBlockSize, block_size);
    store_be32(out + kDhChecksum, vhd_checksum(out, kDynHeaderSize, kDhChecksum));
}

uint32_t vhd_timestamp(uint64_t unix_seconds) {
    return uint32_t(unix_seconds - kVhdEpochUnixSeconds);
}

}  // namespace instar::formats::vpc
