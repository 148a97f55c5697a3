#include "formats/vmdk/vmdk_extent_open.h"

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/vmdk/vmdk_header.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_sparse_open.h"

namespace instar::formats::vmdk {

namespace {

// VMDK3 (COWD) header fields, offsets from the start of the file (the
// magic takes bytes 0..3); all little-endian u32.
constexpr size_t kCowdDiskSectors = 12;
constexpr size_t kCowdGranularity = 16;
constexpr size_t kCowdL1Offset = 20;  // sectors
constexpr size_t kCowdL1Size = 24;    // entries

// seSparse (ESXi 6.5+) headers: a constant one at the start of the file and
// a volatile one it points to, 512 bytes each, little-endian u64 fields.
constexpr uint64_t kSeConstMagic = 0xcafebabe;
constexpr uint64_t kSeVolatileMagic = 0xcafecafe;
constexpr uint64_t kSeVersion = 0x0000000200000001;
constexpr uint64_t kSeGrainSectors = 8;
constexpr uint64_t kSeGrainTableSectors = 64;
constexpr size_t kSeMagic = 0, kSeVersionAt = 8, kSeCapacity = 16, kSeGrainSize = 24, kSeGrainTableSize = 32,
                 kSeFlags = 40, kSeReserved = 48, kSeReservedEnd = 80, kSeVolatileOffset = 80, kSeGrainDirOffset = 128,
                 kSeGrainDirSize = 136, kSeConstPad = 208;
constexpr size_t kSeReplayJournal = 24, kSeVolatilePad = 32;
constexpr uint64_t kSeTableEntryBytes = 8;

bool all_zero(const uint8_t* p, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
        if (p[i] != 0) return false;
    }
    return true;
}

// qemu's vmdk_add_extent bounds, then the grain directory it reads whole.
Status check_tables(uint64_t cluster_sectors, uint64_t l1_entries, uint64_t l1_offset, uint64_t entry_bytes) {
    if (cluster_sectors > kMaxGrainSectors) return Status::image_invalid;
    if (l1_entries > kMaxGdEntries) return Status::image_invalid;
    if (!qemu_can_read(l1_offset, l1_entries * entry_bytes)) return Status::image_invalid;
    return kOk;
}

Status open_cowd(const uint8_t* first, OpenedExtent& out) {
    const uint32_t granularity = load_le32(first + kCowdGranularity);
    const uint32_t l1_entries = load_le32(first + kCowdL1Size);
    const Status s =
        check_tables(granularity, l1_entries, uint64_t(load_le32(first + kCowdL1Offset)) << 9, kGdeBytes);
    if (s != kOk) return s;
    if (granularity == 0) return Status::unsupported_feature;
    out.sectors = load_le32(first + kCowdDiskSectors);
    out.cluster_sectors = granularity;
    return kOk;
}

Status open_se_sparse(ImageSource& file, Arena& arena, OpenedExtent& out) {
    auto* h = static_cast<uint8_t*>(arena.alloc(2 * kSectorSize));
    if (h == nullptr) return Status::out_of_memory;
    if (!read_in_file(file, 0, h, kSectorSize)) return Status::read_failed;
    if (load_le64(h + kSeMagic) != kSeConstMagic || load_le64(h + kSeVersionAt) != kSeVersion ||
        load_le64(h + kSeGrainSize) != kSeGrainSectors || load_le64(h + kSeGrainTableSize) != kSeGrainTableSectors ||
        load_le64(h + kSeFlags) != 0 || !all_zero(h, kSeReserved, kSeReservedEnd) ||
        !all_zero(h, kSeConstPad, kSectorSize)) {
        return Status::image_invalid;
    }
    const uint64_t volatile_at = load_le64(h + kSeVolatileOffset) * kSectorSize;  // wraps, as qemu's
    if (!qemu_can_read(volatile_at, kSectorSize)) return Status::image_invalid;
    uint8_t* v = h + kSectorSize;
    if (!read_in_file(file, volatile_at, v, kSectorSize)) return Status::read_failed;
    if (load_le64(v + kSeMagic) != kSeVolatileMagic || load_le64(v + kSeReplayJournal) != 0 ||
        !all_zero(v, kSeVolatilePad, kSectorSize)) {
        return Status::image_invalid;
    }
    // qemu passes the directory's entry count as 32 bits.
    const uint32_t l1_entries = uint32_t(load_le64(h + kSeGrainDirSize) * kSectorSize / kSeTableEntryBytes);
    const Status s = check_tables(kSeGrainSectors, l1_entries, load_le64(h + kSeGrainDirOffset) * kSectorSize,
                                  kSeTableEntryBytes);
    if (s != kOk) return s;
    out.sectors = load_le64(h + kSeCapacity);
    out.cluster_sectors = kSeGrainSectors;
    return kOk;
}

}  // namespace

Status open_extent_file(ImageSource& file, Arena& arena, ExtentType type, uint64_t descriptor_length,
                        OpenedExtent& out) {
    out = OpenedExtent{};
    if (type == ExtentType::se_sparse) return open_se_sparse(file, arena, out);
    if (type != ExtentType::sparse && type != ExtentType::vmfs_sparse) return Status::internal;

    // qemu reads the first bytes as if they were a descriptor: an empty
    // file is too small, a short one reads as zeros up to its sector.
    if (qemu_file_length(file) < kMagicBytes) return Status::image_invalid;
    auto* first = static_cast<uint8_t*>(arena.alloc(kSectorSize));
    if (first == nullptr) return Status::out_of_memory;
    if (!read_in_file(file, 0, first, kSectorSize)) return Status::read_failed;
    if (has_sparse_magic(first)) {
        SparseHeader h;
        const Status s = open_kdmv(file, arena, first, descriptor_length, h);
        if (s != kOk) return s;
        out.sectors = h.capacity;
        out.cluster_sectors = h.granularity;
        out.compressed = h.compress_algorithm == kCompressionDeflate;
        return kOk;
    }
    return has_cowd_magic(first) ? open_cowd(first, out) : Status::image_invalid;
}

}  // namespace instar::formats::vmdk
