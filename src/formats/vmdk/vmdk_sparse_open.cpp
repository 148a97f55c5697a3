#include "formats/vmdk/vmdk_sparse_open.h"

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/vmdk/vmdk_desc_parse.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_probe.h"

namespace instar::formats::vmdk {

namespace {

uint64_t sectors_covering(uint64_t bytes) { return bytes / kSectorSize + (bytes % kSectorSize != 0); }

bool is_marker(const uint8_t* m, uint32_t type) {
    return load_le32(m + kMarkerSize) == 0 && load_le32(m + kMarkerType) == type;
}

// A stream with its grain directory at the end carries the real header in
// a footer: marker sector, header sector, end-of-stream marker, in the
// 1536 bytes before `base`.
Status read_footer_header(ImageSource& src, Arena& arena, uint64_t base, SparseHeader& h) {
    // Before the start of the file the read fails.
    if (base < kFooterAreaBytes) return Status::image_invalid;
    auto* footer = static_cast<uint8_t*>(arena.alloc(kFooterAreaBytes));
    if (footer == nullptr) return Status::out_of_memory;
    if (!read_in_file(src, base - kFooterAreaBytes, footer, kFooterAreaBytes)) return Status::read_failed;
    const uint8_t* copy = footer + kSectorSize;
    // qemu checks the value field of the end-of-stream marker only.
    const uint8_t* eos = footer + 2 * kSectorSize;
    if (!is_marker(footer, kMarkerFooter) || !has_sparse_magic(copy) || !is_marker(eos, kMarkerEndOfStream) ||
        load_le64(eos + kMarkerValue) != 0) {
        return Status::image_invalid;
    }
    decode_sparse_header(copy, h);
    return kOk;
}

// A table qemu reads whole at open: at `sector` (shifted to bytes in 64
// bits, wrapping as qemu's does), `bytes` long. Past the end of the file
// it reads zeros; beyond the block layer's limits the open fails.
bool table_readable(uint64_t sector, uint64_t bytes) { return qemu_can_read(sector << 9, bytes); }

// The checks qemu's open makes on the header fields, in its order where
// the order decides between refusals of different kinds.
Status check_header(const SparseHeader& h, uint64_t file_size) {
    if (h.version > kMaxVersion) return Status::unsupported_feature;
    if (h.gtes_per_gt > kGtesPerGt) return Status::image_invalid;
    // The granularity bound below keeps this product far inside 32 bits
    // whenever it matters; qemu computes it in 32.
    const uint64_t table_span = uint64_t(h.gtes_per_gt) * h.granularity;
    if (uint32_t(table_span) == 0) return Status::image_invalid;
    if (sectors_covering(file_size) < h.grain_offset) return Status::image_invalid;  // truncated
    if (h.granularity > kMaxGrainSectors) return Status::image_invalid;
    // qemu rounds up in 64 bits (wrapping) and keeps the directory size
    // in 32: a capacity whose entry count exceeds 32 bits is bounded by
    // the truncated count, and a huge capacity is refused further down.
    const uint32_t gd_entries = uint32_t((h.capacity + table_span - 1) / table_span);
    if (gd_entries > kMaxGdEntries) return Status::image_invalid;
    const uint64_t gd_bytes = uint64_t(gd_entries) * kGdeBytes;
    if (!table_readable(h.gd_offset, gd_bytes)) return Status::image_invalid;
    if ((h.flags & kFlagRedundantGd) != 0 && !table_readable(h.rgd_offset, gd_bytes)) {
        return Status::image_invalid;
    }
    return kOk;
}

}  // namespace

bool read_in_file(ImageSource& src, uint64_t offset, uint8_t* buf, size_t len) {
    for (size_t i = 0; i < len; ++i) buf[i] = 0;
    const uint64_t size = src.size();
    if (offset >= size) return true;
    const uint64_t avail = size - offset;
    return src.read(offset, buf, avail < len ? size_t(avail) : len);
}

Status read_descriptor_keys(ImageSource& src, Arena& arena, uint64_t offset, DescriptorKeys& out) {
    out = DescriptorKeys{};
    auto* buf = static_cast<uint8_t*>(arena.alloc(kDescriptorBytes));
    if (buf == nullptr) return Status::out_of_memory;
    if (!read_in_file(src, offset, buf, kDescriptorBytes)) return Status::read_failed;
    const char* text = reinterpret_cast<const char*>(buf);
    // qemu terminates the buffer at its last byte when reading CIDs, one
    // byte past it when reading the parent hint.
    const size_t cid_len = descriptor_length(text, kDescriptorBytes - 1);
    const size_t hint_len = descriptor_length(text, kDescriptorBytes);
    ParentHint hint;
    if (!find_parent_hint(text, hint_len, hint) || !read_cid_field(text, cid_len, "CID", out.cid) ||
        !read_cid_field(text, cid_len, "parentCID", out.parent_cid)) {
        return Status::image_invalid;
    }
    out.parent_hint = hint.length != 0 ? text + hint.start : nullptr;
    out.parent_hint_len = hint.length;
    return kOk;
}

Status open_kdmv(ImageSource& src, Arena& arena, const uint8_t* first, uint64_t footer_base, SparseHeader& h) {
    decode_sparse_header(first, h);
    // qemu takes a zero capacity with a descriptor offset for a descriptor
    // file in disguise, which then names separate extent files.
    if (h.capacity == 0 && h.desc_offset != 0) return Status::unsupported_feature;
    if (h.gd_offset == kGdAtEnd) {
        const Status s = read_footer_header(src, arena, footer_base, h);
        if (s != kOk) return s;
    }
    return check_header(h, src.size());
}

Status open_sparse_file(ImageSource& src, Arena& arena, OpenedSparse& out) {
    out = OpenedSparse{};
    const uint64_t size = src.size();
    if (size < kMagicBytes) return Status::image_invalid;
    auto* first = static_cast<uint8_t*>(arena.alloc(kSectorSize));
    if (first == nullptr) return Status::out_of_memory;
    if (!read_in_file(src, 0, first, kSectorSize)) return Status::read_failed;

    const size_t head_len = size < kSectorSize ? size_t(size) : size_t(kSectorSize);
    if (!has_sparse_magic(first)) {
        // Valid vmdk, but its data lives in other files (descriptor) or in
        // a format we do not read (VMDK3).
        return vmdk_detect(first, head_len) ? Status::unsupported_feature : Status::image_invalid;
    }

    return open_sparse_file_after_magic(src, arena, first, out);
}

Status open_sparse_file_after_magic(ImageSource& src, Arena& arena, const uint8_t* first, OpenedSparse& out) {
    out = OpenedSparse{};
    SparseHeader& h = out.header;
    Status s = open_kdmv(src, arena, first, qemu_file_length(src), h);
    if (s != kOk) return s;

    // qemu reads the descriptor of a sparse file from sector 1 whatever
    // desc_offset says.
    s = read_descriptor_keys(src, arena, kDescriptorSector * kSectorSize, out.keys);
    if (s != kOk) return s;

    // The block layer's last word: the disk must fit its length limit.
    if (h.capacity > kQemuMaxLength / kSectorSize) return Status::image_invalid;
    return kOk;
}

}  // namespace instar::formats::vmdk
