#include "formats/vpc/vpc_probe.h"

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/common/signature.h"
#include "formats/vpc/vpc_checksum.h"
#include "formats/vpc/vpc_layout.h"

namespace instar::formats {

using namespace vpc;

namespace {

constexpr size_t kBatChunk = 4096;

bool same(const uint8_t* a, const uint8_t* b, size_t n) { return __builtin_memcmp(a, b, n) == 0; }

// Which size qemu 7.2 believes: the geometry's, except for creators known
// to size disks by current_size; a maximal geometry always means
// current_size.
uint64_t footer_sectors(const uint8_t* footer) {
    uint64_t chs = uint64_t(load_be16(footer + kFtCylinders)) * footer[kFtHeads] * footer[kFtSectorsPerTrack];
    bool use_chs = true;
    for (const auto& app : kCurrentSizeCreators) {
        if (same(footer + kFtCreatorApp, app, 4)) use_chs = false;
    }
    if (!use_chs || chs == kMaxGeometrySectors) return load_be64(footer + kFtCurrentSize) / kSectorSize;
    return chs;
}

Status check_dynamic(ImageSource& src, Arena& arena, const uint8_t* footer, uint64_t total_sectors,
                     VpcImage& out) {
    uint8_t* header = static_cast<uint8_t*>(arena.alloc(kDynHeaderSize));
    uint8_t* chunk = static_cast<uint8_t*>(arena.alloc(kBatChunk));
    if (header == nullptr || chunk == nullptr) return Status::out_of_memory;

    uint64_t header_at = load_be64(footer + kFtDataOffset);
    if (!qemu_can_read(header_at, kDynHeaderSize)) return Status::image_invalid;
    if (!qemu_read(src, header_at, header, kDynHeaderSize)) return Status::read_failed;
    if (!same(header + kDhCookie, kDynHeaderCookie, sizeof kDynHeaderCookie)) return Status::image_invalid;

    uint32_t block_size = load_be32(header + kDhBlockSize);
    if (block_size < kSectorSize || (block_size & (block_size - 1)) != 0) return Status::image_invalid;
    uint64_t bitmap_size = block_bitmap_bytes(block_size);

    uint64_t disk_bytes = total_sectors * kSectorSize;
    if (disk_bytes / block_size > 0xffffffffu) return Status::image_invalid;
    // qemu holds the entry count in an int: a count with the top bit set is
    // negative there and rejected by its table size limit.
    int32_t entries = int32_t(load_be32(header + kDhMaxTableEntries));
    uint64_t covered = uint64_t(int64_t(entries)) * block_size;
    if (covered < disk_bytes) return Status::image_invalid;
    if (entries < 0 || entries > INT32_MAX / 4) return Status::image_invalid;

    uint64_t table_bytes = uint64_t(entries) * 4;
    uint64_t table_at = load_be64(header + kDhTableOffset);
    if (!qemu_can_read(table_at, table_bytes)) return Status::image_invalid;

    // The first free byte after the table and every allocated block: qemu
    // refuses images whose blocks run past the end of the file.
    uint64_t free_at = (table_at + table_bytes + 511) & ~uint64_t(511);
    auto note_entry = [&](uint32_t entry) {
        if (entry == kBatUnallocated) return;
        uint64_t next = uint64_t(entry) * kSectorSize + bitmap_size + block_size;
        if (next > free_at) free_at = next;
    };

    uint64_t file_size = qemu_file_length(src);
    uint64_t in_file_bytes = table_at < file_size ? file_size - table_at : 0;
    uint64_t in_file = (in_file_bytes + 3) / 4;
    if (in_file > uint64_t(entries)) in_file = uint64_t(entries);
    constexpr uint64_t kPerChunk = kBatChunk / 4;
    for (uint64_t done = 0; done < in_file;) {
        uint64_t n = in_file - done < kPerChunk ? in_file - done : kPerChunk;
        if (!qemu_read(src, table_at + done * 4, chunk, size_t(n * 4))) return Status::read_failed;
        for (uint64_t i = 0; i < n; ++i) note_entry(load_be32(chunk + i * 4));
        done += n;
    }
    // Entries past the end of the file read as zero: a block at sector 0.
    if (in_file < uint64_t(entries)) note_entry(0);

    if (free_at > file_size) return Status::image_invalid;
    out.block_size = block_size;
    out.bitmap_size = uint32_t(bitmap_size);
    out.bat_offset = table_at;
    out.bat_entries = uint32_t(entries);
    return kOk;
}

}  // namespace

bool vpc_detect(const uint8_t* head, size_t len) {
    return starts_with_signature(head, len, kFooterCookie);
}

Status vpc_open(ImageSource& src, Arena& arena, VpcImage& out) {
    out = VpcImage{};
    uint8_t* footer = static_cast<uint8_t*>(arena.alloc(kFooterSize));
    if (footer == nullptr) return Status::out_of_memory;

    // A dynamic image starts with a footer copy; a fixed one has its only
    // footer at the end.
    bool dynamic = true;
    if (!qemu_read(src, 0, footer, kFooterSize)) return Status::read_failed;
    if (!same(footer + kFtCookie, kFooterCookie, sizeof kFooterCookie)) {
        uint64_t file_size = qemu_file_length(src);
        if (file_size < kFooterSize) return Status::image_invalid;
        if (!qemu_read(src, file_size - kFooterSize, footer, kFooterSize)) return Status::read_failed;
        if (!same(footer + kFtCookie, kFooterCookie, sizeof kFooterCookie) ||
            load_be32(footer + kFtDiskType) != kDiskTypeFixed) {
            return Status::image_invalid;
        }
        dynamic = false;
    }
    if (vhd_checksum(footer, kFooterSize, kFtChecksum) != load_be32(footer + kFtChecksum)) {
        return Status::image_invalid;
    }

    uint64_t total_sectors = footer_sectors(footer);
    if (total_sectors > kMaxSectors) return Status::image_invalid;
    if (dynamic) {
        if (Status s = check_dynamic(src, arena, footer, total_sectors, out); s != kOk) return s;
    }
    out.virtual_size = total_sectors * kSectorSize;
    out.dynamic = dynamic;
    out.disk_type = load_be32(footer + kFtDiskType);
    return kOk;
}

Status vpc_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
    out = BasicImageInfo{};
    VpcImage image{};
    if (Status s = vpc_open(src, arena, image); s != kOk) return s;
    out.virtual_size = image.virtual_size;
    return kOk;
}

}  // namespace instar::formats
