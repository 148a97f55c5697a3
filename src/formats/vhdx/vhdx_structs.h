// Builders for the VHDX structures qemu-img 7.2 writes at creation. Each
// fills a small buffer holding the structure's non-zero prefix; the rest of
// its block is zero on disk and only enters the checksum.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/vhdx/vhdx_layout.h"
#include "formats/vhdx/vhdx_plan.h"

namespace instar::formats::vhdx {

// File identifier: signature plus qemu's creator string in UTF-16LE.
inline constexpr size_t kFileIdBytes = kFileIdCreatorOffset + 2 * (sizeof kCreator - 1);
void build_file_identifier(uint8_t* out);

struct HeaderSpec {
    uint64_t sequence;
    const uint8_t* file_write_guid;
    const uint8_t* data_write_guid;
    uint32_t log_length;
    uint64_t log_offset;
};
void build_header(const HeaderSpec& spec, uint8_t* out /* kHeaderStructSize */);

// Region table with the BAT and metadata entries, checksummed.
inline constexpr size_t kRegionTableBytes = kRtHeaderSize + 2 * kRtEntrySize;
void build_region_table(const Plan& plan, uint8_t* out);

// The metadata table (header and the five required entries) and the items
// it points to, which follow one another from kMetadataItemsOffset on.
inline constexpr uint32_t kMetadataEntries = 5;
inline constexpr size_t kMetadataTableBytes = kMtHeaderSize + kMetadataEntries * kMtEntrySize;
inline constexpr size_t kMetadataItemBytes =
    kFileParametersSize + kVirtualDiskSizeSize + kPage83Size + 2 * kSectorSizeItemSize;
void build_metadata_table(uint8_t* out);
void build_metadata_items(const Plan& plan, const uint8_t* page83, uint8_t* out);

// Checksum of a structure whose block is `block_size` bytes, of which only
// the first `len` are non-zero, with the checksum field at `checksum_at`
// taken as zero. Stored little-endian by the callers.
uint32_t block_checksum(const uint8_t* data, size_t len, uint64_t block_size, size_t checksum_at);

}  // namespace instar::formats::vhdx
