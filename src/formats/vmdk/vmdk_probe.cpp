#include "vmdk_probe.h"

#include "../common/endian.h"
#include "vmdk_desc_parse.h"
#include "vmdk_header.h"
#include "vmdk_layout.h"

namespace instar::formats {

namespace {

using namespace vmdk;

// qemu's probe buffer (BLOCK_PROBE_BUF_SIZE).
constexpr size_t kQemuProbeBytes = 512;

bool starts_with(const uint8_t* head, size_t len, const uint8_t* magic) {
    if (len < kMagicBytes) return false;
    for (size_t i = 0; i < kMagicBytes; ++i) {
        if (head[i] != magic[i]) return false;
    }
    return true;
}

// The probe window: head, then zeroes up to kQemuProbeBytes.
struct Window {
    const uint8_t* head;
    size_t len;
    char at(size_t i) const { return i < len ? char(head[i]) : '\0'; }
    bool matches(size_t p, const char* s) const {
        for (size_t i = 0; s[i] != '\0'; ++i) {
            if (at(p + i) != s[i]) return false;
        }
        return true;
    }
};

bool descriptor_version_line(const Window& w) {
    static const char* const kUnix[] = {"version=1\n", "version=2\n", "version=3\n"};
    static const char* const kDos[] = {"version=1\r\n", "version=2\r\n", "version=3\r\n"};
    const size_t end = kQemuProbeBytes;
    size_t p = 0;
    while (p < end) {
        const char c = w.at(p);
        if (c == '#') {
            while (p < end && w.at(p) != '\n') ++p;
            ++p;
            continue;
        }
        if (c == ' ') {
            // Only lines of blanks may precede the version line; a line
            // that is empty outright does not count as blank.
            while (p < end && w.at(p) == ' ') ++p;
            if (p < end && w.at(p) == '\r') ++p;
            if (p == end || w.at(p) != '\n') return false;
            ++p;
            continue;
        }
        for (const char* line : kUnix) {
            if (end - p >= 10 && w.matches(p, line)) return true;
        }
        for (const char* line : kDos) {
            if (end - p >= 11 && w.matches(p, line)) return true;
        }
        return false;
    }
    return false;
}

// Reads [offset, offset+len) without asking the source for anything past
// its end; those bytes read as zero, as they do for qemu.
bool read_in_file(ImageSource& src, uint64_t offset, uint8_t* buf, size_t len) {
    for (size_t i = 0; i < len; ++i) buf[i] = 0;
    const uint64_t size = src.size();
    if (offset >= size) return true;
    const uint64_t avail = size - offset;
    return src.read(offset, buf, avail < len ? size_t(avail) : len);
}

uint64_t sectors_covering(uint64_t bytes) { return bytes / kSectorSize + (bytes % kSectorSize != 0); }

bool is_marker(const uint8_t* m, uint32_t type) {
    return load_le32(m + kMarkerSize) == 0 && load_le32(m + kMarkerType) == type;
}

// A stream with its grain directory at the end carries the real header in
// a footer: marker sector, header sector, end-of-stream marker, located
// from the end of the file rounded up to whole sectors.
Status read_footer_header(ImageSource& src, Arena& arena, SparseHeader& h) {
    const uint64_t file_bytes = sectors_covering(src.size()) * kSectorSize;
    if (file_bytes < kFooterAreaBytes) return Status::image_invalid;
    auto* footer = static_cast<uint8_t*>(arena.alloc(kFooterAreaBytes));
    if (footer == nullptr) return Status::out_of_memory;
    if (!read_in_file(src, file_bytes - kFooterAreaBytes, footer, kFooterAreaBytes)) return Status::read_failed;
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

// The checks qemu's open makes on the header fields.
Status check_header(const SparseHeader& h, uint64_t file_size) {
    if (h.version > kMaxVersion) return Status::unsupported_feature;
    if (h.gtes_per_gt == 0 || h.gtes_per_gt > kGtesPerGt) return Status::image_invalid;
    if (h.granularity == 0 || h.granularity > kMaxGrainSectors) return Status::image_invalid;
    const uint64_t table_span = uint64_t(h.gtes_per_gt) * h.granularity;
    const uint64_t gd_entries = h.capacity / table_span + (h.capacity % table_span != 0);
    if (gd_entries > kMaxGdEntries) return Status::image_invalid;
    if (h.capacity > uint64_t(INT64_MAX) / kSectorSize) return Status::image_invalid;
    if (sectors_covering(file_size) < h.grain_offset) return Status::image_invalid;  // truncated
    return kOk;
}

Status read_descriptor_cid(ImageSource& src, Arena& arena, uint32_t& cid) {
    auto* buf = static_cast<uint8_t*>(arena.alloc(kDescriptorBytes));
    if (buf == nullptr) return Status::out_of_memory;
    // qemu reads the descriptor of a sparse file from sector 1 whatever
    // desc_offset says.
    if (!read_in_file(src, kDescriptorSector * kSectorSize, buf, kDescriptorBytes)) return Status::read_failed;
    const char* text = reinterpret_cast<const char*>(buf);
    // qemu terminates the buffer at its last byte when reading CIDs, one
    // byte past it when reading the parent hint.
    const size_t cid_len = descriptor_length(text, kDescriptorBytes - 1);
    const size_t hint_len = descriptor_length(text, kDescriptorBytes);
    uint32_t parent_cid = 0;
    if (!parent_hint_ok(text, hint_len) || !read_cid_field(text, cid_len, "CID", cid) ||
        !read_cid_field(text, cid_len, "parentCID", parent_cid)) {
        return Status::image_invalid;
    }
    return kOk;
}

}  // namespace

bool vmdk_detect(const uint8_t* head, size_t len) {
    if (head == nullptr || len == 0) return false;  // qemu takes empty files for raw
    if (starts_with(head, len, kSparseMagic) || starts_with(head, len, kCowdMagic)) return true;
    return descriptor_version_line(Window{head, len});
}

Status vmdk_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
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

    SparseHeader h{};
    decode_sparse_header(first, h);
    // qemu takes a zero capacity with a descriptor offset for a descriptor
    // file in disguise, which then names separate extent files.
    if (h.capacity == 0 && h.desc_offset != 0) return Status::unsupported_feature;
    if (h.gd_offset == kGdAtEnd) {
        const Status s = read_footer_header(src, arena, h);
        if (s != kOk) return s;
    }
    Status s = check_header(h, size);
    if (s != kOk) return s;

    uint32_t cid = 0;
    s = read_descriptor_cid(src, arena, cid);
    if (s != kOk) return s;

    out.virtual_size = h.capacity * kSectorSize;
    out.has_cid = true;
    out.cid = cid;
    return kOk;
}

}  // namespace instar::formats
