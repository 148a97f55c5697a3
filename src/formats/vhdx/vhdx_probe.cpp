#include "formats/vhdx/vhdx_probe.h"

#include "formats/common/bits.h"
#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/common/signature.h"
#include "formats/vhdx/crc32c.h"
#include "formats/vhdx/vhdx_bat.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vhdx/vhdx_log.h"

namespace instar::formats {

using namespace vhdx;

namespace {

constexpr size_t kChunk = 4096;

bool same(const uint8_t* a, const uint8_t* b, size_t n) { return __builtin_memcmp(a, b, n) == 0; }

bool is_zero(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != 0) return false;
    return true;
}

// Ranges of the file already claimed (log, regions); qemu refuses any new
// region or payload block overlapping one. Ends wrap like qemu's.
struct Regions {
    uint64_t* start;
    uint64_t* end;
    uint32_t count;

    bool overlaps(uint64_t s, uint64_t len) const {
        uint64_t e = s + len;
        for (uint32_t i = 0; i < count; ++i) {
            if (!(s >= end[i] || e <= start[i])) return true;
        }
        return false;
    }
    void add(uint64_t s, uint64_t len) {
        start[count] = s;
        end[count] = s + len;
        ++count;
    }
};

// Checksum of a whole block read in chunks, the field at `checksum_at`
// (inside the first chunk) taken as zero.
Status block_crc(ImageSource& src, uint64_t at, uint64_t size, size_t checksum_at, uint8_t* chunk,
                 uint32_t& crc_out, uint32_t& stored_out) {
    Crc32c crc;
    for (uint64_t done = 0; done < size; done += kChunk) {
        if (!qemu_read(src, at + done, chunk, kChunk)) return Status::read_failed;
        if (done == 0) {
            stored_out = load_le32(chunk + checksum_at);
            __builtin_memset(chunk + checksum_at, 0, 4);
        }
        crc.update(chunk, kChunk);
    }
    crc_out = crc.value();
    return kOk;
}

struct HeaderState {
    bool valid;
    uint8_t raw[kHeaderStructSize];
};

Status read_header(ImageSource& src, uint64_t at, uint8_t* chunk, HeaderState& h) {
    uint32_t crc = 0, stored = 0;
    if (Status s = block_crc(src, at, kHeaderChecksummed, kHdChecksum, chunk, crc, stored); s != kOk) return s;
    __builtin_memcpy(h.raw, chunk, kHeaderStructSize);
    store_le32(h.raw + kHdChecksum, stored);
    h.valid = crc == stored && same(h.raw + kHdSignature, kHeaderSignature, 4) &&
              load_le16(h.raw + kHdVersion) == kHeaderVersion;
    return kOk;
}

// The current header: the valid one, or of two valid ones the one with the
// higher sequence number. Equal numbers are only accepted on identical
// headers (Disk2VHD writes those).
Status current_header(ImageSource& src, uint8_t* chunk, HeaderState* h, const uint8_t*& current) {
    if (Status s = read_header(src, kHeader1Offset, chunk, h[0]); s != kOk) return s;
    if (Status s = read_header(src, kHeader2Offset, chunk, h[1]); s != kOk) return s;
    if (!h[0].valid && !h[1].valid) return Status::image_invalid;
    if (h[0].valid != h[1].valid) {
        current = h[0].valid ? h[0].raw : h[1].raw;
        return kOk;
    }
    uint64_t s1 = load_le64(h[0].raw + kHdSequence);
    uint64_t s2 = load_le64(h[1].raw + kHdSequence);
    if (s1 == s2 && !same(h[0].raw, h[1].raw, kHeaderStructSize)) return Status::image_invalid;
    current = s2 > s1 ? h[1].raw : h[0].raw;
    return kOk;
}

// qemu's log checks, then its search for entries it would replay.
Status check_log(ImageSource& src, Arena& arena, const uint8_t* header, Regions& regions) {
    uint64_t log_offset = load_le64(header + kHdLogOffset);
    uint32_t log_length = load_le32(header + kHdLogLength);
    regions.add(log_offset, log_length);
    if (log_offset < kLogUnit || log_offset % kLogUnit != 0) return Status::image_invalid;
    if (load_le16(header + kHdLogVersion) != kLogVersion) return Status::image_invalid;
    if (is_zero(header + kHdLogGuid, kGuidSize) || log_length == 0) return kOk;
    if (log_length % kLogUnit != 0) return Status::image_invalid;
    return search_log(src, arena, log_offset, log_length, header + kHdLogGuid);
}

struct RegionInfo {
    uint64_t bat_offset;
    uint32_t bat_length;
    uint64_t metadata_offset;
};

Status read_region_table(ImageSource& src, uint8_t* chunk, Arena& arena, Regions& regions, RegionInfo& info) {
    uint32_t crc = 0, stored = 0;
    if (Status s = block_crc(src, kRegionTable1Offset, kRegionTableSize, kRtChecksum, chunk, crc, stored); s != kOk) {
        return s;
    }
    if (crc != stored) return Status::image_invalid;
    uint8_t head[kRtHeaderSize];
    if (!qemu_read(src, kRegionTable1Offset, head, sizeof head)) return Status::read_failed;
    if (!same(head + 0, kRegionSignature, 4)) return Status::image_invalid;
    uint32_t count = load_le32(head + kRtEntryCount);
    if (count > kRegionEntriesMax) return Status::image_invalid;

    uint32_t capacity = regions.count + count;
    uint64_t* starts = arena.alloc_array<uint64_t>(capacity);
    uint64_t* ends = arena.alloc_array<uint64_t>(capacity);
    if (starts == nullptr || ends == nullptr) return Status::out_of_memory;
    for (uint32_t i = 0; i < regions.count; ++i) {
        starts[i] = regions.start[i];
        ends[i] = regions.end[i];
    }
    regions.start = starts;
    regions.end = ends;

    bool have_bat = false, have_metadata = false;
    for (uint32_t i = 0; i < count; ++i) {
        uint8_t e[kRtEntrySize];
        if (!qemu_read(src, kRegionTable1Offset + kRtHeaderSize + uint64_t(i) * kRtEntrySize, e, sizeof e)) {
            return Status::read_failed;
        }
        uint64_t offset = load_le64(e + kReFileOffset);
        uint32_t length = load_le32(e + kReLength);
        if (regions.overlaps(offset, length)) return Status::image_invalid;
        regions.add(offset, length);
        if (same(e + kReGuid, kBatRegionGuid, kGuidSize)) {
            if (have_bat) return Status::image_invalid;
            have_bat = true;
            info.bat_offset = offset;
            info.bat_length = length;
        } else if (same(e + kReGuid, kMetadataRegionGuid, kGuidSize)) {
            if (have_metadata) return Status::image_invalid;
            have_metadata = true;
            info.metadata_offset = offset;
        } else if (load_le32(e + kReDataBits) & kRegionEntryRequired) {
            return Status::unsupported_feature;
        }
    }
    if (!have_bat || !have_metadata) return Status::image_invalid;
    return kOk;
}

enum MetadataItem : uint32_t { kFileParams, kDiskSize, kPage83, kLogicalSector, kPhysicalSector, kParentLocator, kItemCount };
constexpr const uint8_t* kItemGuids[kItemCount] = {kFileParametersGuid,    kVirtualDiskSizeGuid,    kPage83Guid,
                                                   kLogicalSectorSizeGuid, kPhysicalSectorSizeGuid, kParentLocatorGuid};
constexpr uint32_t kRequiredItems = (1u << kParentLocator) - 1;

struct DiskParams {
    uint64_t disk_size;
    uint32_t block_size;
};

Status read_metadata(ImageSource& src, uint8_t* chunk, uint64_t metadata_offset, DiskParams& params) {
    if (!qemu_can_read(metadata_offset, kMetadataTableSize)) return Status::image_invalid;
    uint32_t present = 0;
    uint32_t item_offset[kItemCount] = {};
    uint32_t count = 0;
    for (uint64_t at = 0; at < kMetadataTableSize; at += kChunk) {
        if (!qemu_read(src, metadata_offset + at, chunk, kChunk)) return Status::read_failed;
        size_t first = 0;
        if (at == 0) {
            if (!same(chunk + kMtSignature, kMetadataSignature, sizeof kMetadataSignature)) {
                return Status::image_invalid;
            }
            count = load_le16(chunk + kMtEntryCount);
            if (uint64_t(count) * kMtEntrySize > kMetadataTableSize - kMtHeaderSize) return Status::image_invalid;
            first = kMtHeaderSize;
        }
        for (size_t pos = first; pos < kChunk; pos += kMtEntrySize) {
            uint64_t index = (at + pos - kMtHeaderSize) / kMtEntrySize;
            if (index >= count) break;
            const uint8_t* e = chunk + pos;
            uint32_t item = 0;
            while (item < kItemCount && !same(e + kMeItemId, kItemGuids[item], kGuidSize)) ++item;
            if (item == kItemCount) {
                if (load_le32(e + kMeDataBits) & kMetaIsRequired) return Status::unsupported_feature;
                continue;
            }
            if (present & (1u << item)) return Status::image_invalid;
            present |= 1u << item;
            item_offset[item] = load_le32(e + kMeOffset);
        }
        if ((at + kChunk - kMtHeaderSize) / kMtEntrySize >= count) break;
    }
    // A parent locator means a differencing image, which qemu cannot open.
    if (present != kRequiredItems) return Status::unsupported_feature;

    // qemu reads all four items before judging them; any read its block
    // layer refuses fails the open.
    struct ItemRead {
        uint32_t item;
        uint32_t length;
    };
    const ItemRead reads[] = {{kFileParams, kFileParametersSize},
                              {kDiskSize, kVirtualDiskSizeSize},
                              {kLogicalSector, kSectorSizeItemSize},
                              {kPhysicalSector, kSectorSizeItemSize}};
    for (const ItemRead& r : reads) {
        if (!qemu_can_read(metadata_offset + item_offset[r.item], r.length)) return Status::image_invalid;
    }
    uint8_t fp[kFileParametersSize];
    uint8_t size[kVirtualDiskSizeSize];
    uint8_t logical[kSectorSizeItemSize];
    if (!qemu_read(src, metadata_offset + item_offset[kFileParams], fp, sizeof fp) ||
        !qemu_read(src, metadata_offset + item_offset[kDiskSize], size, sizeof size) ||
        !qemu_read(src, metadata_offset + item_offset[kLogicalSector], logical, sizeof logical)) {
        return Status::read_failed;
    }
    // has_parent without a parent locator.
    if (load_le32(fp + 4) & kFileParamHasParent) return Status::image_invalid;
    uint32_t block_size = load_le32(fp);
    if (block_size < kMinBlockSize || block_size > kMaxBlockSize) return Status::image_invalid;
    if (load_le32(logical) != kLogicalSectorSize) return Status::unsupported_feature;
    if (!is_power_of_two(block_size)) return Status::image_invalid;
    params.disk_size = load_le64(size);
    params.block_size = block_size;
    return kOk;
}

// qemu's open-time BAT check: every fully present payload block must lie
// inside the file, and the first chunk_ratio of them (a quirk of qemu's
// counter) must not overlap the log or any region.
Status check_bat(ImageSource& src, uint8_t* chunk, const RegionInfo& info, const DiskParams& params,
                 const Regions& regions) {
    BatGeometry g = bat_geometry(params.disk_size, params.block_size);
    if (g.entries > info.bat_length / kBatEntrySize) return Status::image_invalid;
    if (!qemu_can_read(info.bat_offset, info.bat_length)) return Status::image_invalid;

    uint64_t file_size = qemu_file_length(src);
    uint64_t disk_bytes = (params.disk_size / kLogicalSectorSize) * kLogicalSectorSize;
    // Entries past the end of the file read as zero: not present, nothing
    // to check.
    uint64_t in_file_bytes = info.bat_offset < file_size ? file_size - info.bat_offset : 0;
    uint64_t in_file = (in_file_bytes + kBatEntrySize - 1) / kBatEntrySize;
    if (in_file > g.entries) in_file = g.entries;

    uint64_t payblocks = g.chunk_ratio;
    constexpr uint64_t kPerChunk = kChunk / kBatEntrySize;
    for (uint64_t base = 0; base < in_file; base += kPerChunk) {
        uint64_t n = in_file - base < kPerChunk ? in_file - base : kPerChunk;
        if (!qemu_read(src, info.bat_offset + base * kBatEntrySize, chunk, size_t(n * kBatEntrySize))) {
            return Status::read_failed;
        }
        for (uint64_t k = 0; k < n; ++k) {
            uint64_t entry = load_le64(chunk + k * kBatEntrySize);
            if ((entry & kBatStateMask) != kBatFullyPresent) continue;
            uint64_t i = base + k;
            uint64_t offset = entry & kBatOffsetMask;
            uint64_t remaining = disk_bytes - i * params.block_size;
            uint64_t block_length = remaining < params.block_size ? remaining : params.block_size;
            if (offset > uint64_t(INT64_MAX) - params.block_size) return Status::image_invalid;
            if (offset >= file_size || offset + block_length > file_size) return Status::image_invalid;
            if (payblocks--) {
                if (regions.overlaps(offset, params.block_size)) return Status::image_invalid;
            } else {
                payblocks = g.chunk_ratio;
            }
        }
    }
    return kOk;
}

}  // namespace

bool vhdx_detect(const uint8_t* head, size_t len) {
    return starts_with_signature(head, len, kFileSignature);
}

Status vhdx_open(ImageSource& src, Arena& arena, VhdxImage& out) {
    out = VhdxImage{};
    uint8_t* chunk = static_cast<uint8_t*>(arena.alloc(kChunk));
    HeaderState* headers = arena.alloc_array<HeaderState>(2);
    uint64_t* log_start = arena.alloc_array<uint64_t>(1);
    uint64_t* log_end = arena.alloc_array<uint64_t>(1);
    if (chunk == nullptr || headers == nullptr || log_start == nullptr || log_end == nullptr) {
        return Status::out_of_memory;
    }

    uint8_t signature[sizeof kFileSignature];
    if (!qemu_read(src, kFileIdOffset, signature, sizeof signature)) return Status::read_failed;
    if (!same(signature, kFileSignature, sizeof kFileSignature)) return Status::image_invalid;

    const uint8_t* header = nullptr;
    if (Status s = current_header(src, chunk, headers, header); s != kOk) return s;
    Regions regions{log_start, log_end, 0};
    if (Status s = check_log(src, arena, header, regions); s != kOk) return s;

    RegionInfo info{};
    if (Status s = read_region_table(src, chunk, arena, regions, info); s != kOk) return s;
    DiskParams params{};
    if (Status s = read_metadata(src, chunk, info.metadata_offset, params); s != kOk) return s;
    if (Status s = check_bat(src, chunk, info, params, regions); s != kOk) return s;

    uint64_t disk_bytes = (params.disk_size / kLogicalSectorSize) * kLogicalSectorSize;
    if (disk_bytes > kQemuMaxLength) return Status::image_invalid;
    out.virtual_size = disk_bytes;
    out.block_size = params.block_size;
    out.bat_offset = info.bat_offset;
    out.bat_length = info.bat_length;
    out.bat = bat_geometry(params.disk_size, params.block_size);
    return kOk;
}

Status vhdx_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
    out = BasicImageInfo{};
    VhdxImage image{};
    if (Status s = vhdx_open(src, arena, image); s != kOk) return s;
    out.virtual_size = image.virtual_size;
    return kOk;
}

}  // namespace instar::formats
