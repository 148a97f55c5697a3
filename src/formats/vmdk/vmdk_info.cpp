#include "formats/vmdk/vmdk_info.h"

#include "formats/common/qemu_block_view.h"
#include "formats/vmdk/vmdk_desc_parse.h"
#include "formats/vmdk/vmdk_extent_open.h"
#include "formats/vmdk/vmdk_header.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_sparse_open.h"
#include "formats/common/info_string.h"

namespace instar::formats {

namespace {

using namespace vmdk;

// How much of a descriptor file qemu reads (1 MiB - 1, "avoid unbounded
// allocation").
constexpr uint64_t kDescriptorFileMax = (1u << 20) - 1;

template <uint32_t N, size_t M>
void set_literal(abi::InfoString<N>& s, const char (&text)[M]) {
    static_assert(M - 1 <= N, "literal longer than its field");
    set_string(s, text, M - 1);
}

template <uint32_t N>
void set_name(abi::InfoString<N>& s, const char* name) {
    size_t n = 0;
    while (name[n] != '\0') ++n;
    set_string(s, name, n);
}

Status set_backing(const DescriptorKeys& keys, abi::InfoResult& out) {
    if (keys.parent_hint == nullptr) return kOk;
    if (!set_string(out.backing_file, keys.parent_hint, keys.parent_hint_len)) return Status::unsupported_feature;
    set_literal(out.backing_format, "vmdk");
    out.flags |= abi::kInfoHasBacking | abi::kInfoHasBackingFormat;
    return kOk;
}

Status read_sparse_image(ImageSource& src, Arena& arena, const uint8_t* first, RecordSink& records,
                         abi::InfoResult& out) {
    OpenedSparse opened;
    Status s = open_sparse_file_after_magic(src, arena, first, opened);
    if (s != kOk) return s;
    const SparseHeader& h = opened.header;

    // open_sparse_file bounds both: capacity by qemu's length limit, the
    // grain by kMaxGrainSectors.
    const uint64_t virtual_size = h.capacity * kSectorSize;
    const uint64_t grain_bytes = h.granularity * kSectorSize;
    const bool compressed = h.compress_algorithm == kCompressionDeflate;

    out.format = uint32_t(abi::Format::vmdk);
    out.virtual_size = virtual_size;
    out.cluster_size = grain_bytes;
    out.flags = abi::kInfoHasClusterSize;
    s = set_backing(opened.keys, out);
    if (s != kOk) return s;

    abi::InfoVmdk& v = out.vmdk;
    v.cid = opened.keys.cid;
    v.parent_cid = opened.keys.parent_cid;
    if (compressed) {
        set_literal(v.create_type, "streamOptimized");
    } else {
        set_literal(v.create_type, "monolithicSparse");
    }
    v.extent_count = 1;
    abi::InfoVmdkExtent e{};
    e.virtual_size = virtual_size;
    e.cluster_size = grain_bytes;
    e.flags = abi::kVmdkExtentHasClusterSize | (compressed ? abi::kVmdkExtentCompressed : 0u);
    records.add(abi::InfoRecord::vmdk_extent, e);
    return kOk;
}

// Reads one extent file's header through VmdkExtentFiles.
class ExtentOpener final : public VmdkExtentFiles::Reader {
public:
    ExtentOpener(void* scratch, ExtentType type, uint64_t descriptor_length)
        : scratch_(scratch), type_(type), descriptor_length_(descriptor_length) {}

    Status read(ImageSource& file) override {
        // Fresh scratch per extent: a descriptor may name thousands.
        Arena arena(scratch_, kExtentOpenScratch);
        return open_extent_file(file, arena, type_, descriptor_length_, opened);
    }

    OpenedExtent opened{};

private:
    void* scratch_;
    ExtentType type_;
    uint64_t descriptor_length_;
};

// What qemu's get_info compares to decide whether the image has one
// cluster size.
struct ExtentShape {
    bool flat;
    bool compressed;
    uint64_t cluster_sectors;
    bool operator==(const ExtentShape& o) const {
        return flat == o.flat && compressed == o.compressed && (flat || cluster_sectors == o.cluster_sectors);
    }
};

struct Descriptor {
    const char* text;
    size_t len;
    uint64_t file_length;  // sector-rounded, as qemu sees it
    size_t type_start, type_len;
    DescriptorKeys keys;
    uint32_t extents;
};

// Everything qemu checks in the descriptor file itself.
Status read_descriptor_file(ImageSource& src, Arena& arena, Descriptor& d) {
    d.file_length = qemu_file_length(src);
    const size_t bytes = size_t(d.file_length < kDescriptorFileMax ? d.file_length : kDescriptorFileMax);
    auto* buf = static_cast<char*>(arena.alloc(bytes, 16, false));
    if (buf == nullptr) return Status::out_of_memory;
    if (!read_in_file(src, 0, reinterpret_cast<uint8_t*>(buf), bytes)) return Status::read_failed;
    d.text = buf;
    d.len = descriptor_length(buf, bytes);

    if (!find_create_type(d.text, d.len, d.type_start, d.type_len) ||
        !is_descriptor_file_type(d.text + d.type_start, d.type_len)) {
        return Status::image_invalid;
    }
    ExtentLineReader lines(d.text, d.len);
    d.extents = 0;
    for (;;) {
        ExtentLine line;
        bool done = false;
        const Status s = lines.next(line, done);
        if (s != kOk) return s;
        if (done) break;
        ++d.extents;
    }
    const Status s = read_descriptor_keys(src, arena, 0, d.keys);
    if (s != kOk) return s;
    // Before any file is opened for it.
    if (d.keys.parent_hint_len > abi::kInfoPathMax) return Status::unsupported_feature;
    // qemu opens the file and then asserts it has an extent: qemu-img aborts.
    if (d.extents == 0) return Status::image_invalid;
    return kOk;
}

// First run: the names of the files to attach.
Status list_extent_files(const Descriptor& d, RecordSink& records, abi::InfoResult& out) {
    out.format = uint32_t(abi::Format::vmdk);
    out.flags = abi::kInfoNeedsExtentFiles;
    out.vmdk.extent_count = d.extents;
    if (d.extents > abi::kInfoMaxVmdkExtents) return kOk;  // the host refuses by the count
    ExtentLineReader lines(d.text, d.len);
    for (uint32_t i = 0; i < d.extents; ++i) {
        ExtentLine line;
        bool done = false;
        if (lines.next(line, done) != kOk || done) return Status::internal;
        abi::InfoVmdkExtentFile f{};
        if (!set_string(f.name, d.text + line.name_start, line.name_length)) return Status::internal;
        records.add(abi::InfoRecord::vmdk_extent_file, f);
    }
    return kOk;
}

Status read_extents(const Descriptor& d, Arena& arena, VmdkExtentFiles& files, RecordSink& records,
                    abi::InfoResult& out) {
    static_assert(kNameLongest <= abi::kInfoExtentNameLongest, "every extent name qemu reads fits");
    if (files.count() != d.extents) return Status::bad_config;
    void* scratch = arena.alloc(kExtentOpenScratch);
    if (scratch == nullptr) return Status::out_of_memory;

    ExtentLineReader lines(d.text, d.len);
    uint64_t total = 0;  // sectors
    ExtentShape first{};
    bool one_shape = true;
    bool stream = false;
    for (uint32_t i = 0; i < d.extents; ++i) {
        ExtentLine line;
        bool done = false;
        if (lines.next(line, done) != kOk || done) return Status::internal;

        ExtentShape shape{true, false, 0};
        uint64_t sectors = line.sectors;
        if (line.type != ExtentType::flat && line.type != ExtentType::vmfs) {
            ExtentOpener opener(scratch, line.type, d.file_length);
            const Status s = files.read(i, opener);
            if (s != kOk) return s;
            sectors = opener.opened.sectors;
            shape = ExtentShape{false, opener.opened.compressed, opener.opened.cluster_sectors};
            stream = stream || shape.compressed;
        }
        // qemu adds the sizes up in signed 64 bits and refuses a total
        // beyond the block layer's limit; instar refuses before any sum
        // could wrap around.
        if (sectors > kQemuMaxLength / kSectorSize - total) return Status::image_invalid;
        total += sectors;
        if (i == 0) first = shape;
        one_shape = one_shape && shape == first;

        abi::InfoVmdkExtent e{};
        e.virtual_size = sectors * kSectorSize;
        if (!shape.flat) {
            e.flags = abi::kVmdkExtentHasClusterSize | (shape.compressed ? abi::kVmdkExtentCompressed : 0u);
            e.cluster_size = shape.cluster_sectors * kSectorSize;
        }
        set_string(e.filename, d.text + line.name_start, line.name_length);
        set_name(e.format, extent_type_name(line.type));
        records.add(abi::InfoRecord::vmdk_extent, e);
    }

    out.format = uint32_t(abi::Format::vmdk);
    out.virtual_size = total * kSectorSize;
    if (!one_shape) {
        out.vmdk.flags |= abi::kVmdkMixedExtents;
    } else if (!first.flat) {
        out.flags |= abi::kInfoHasClusterSize;
        out.cluster_size = first.cluster_sectors * kSectorSize;
    }
    const Status s = set_backing(d.keys, out);
    if (s != kOk) return s;
    abi::InfoVmdk& v = out.vmdk;
    v.cid = d.keys.cid;
    v.parent_cid = d.keys.parent_cid;
    v.extent_count = d.extents;
    // A compressed extent makes qemu call the whole image a stream.
    if (stream) {
        set_literal(v.create_type, "streamOptimized");
    } else if (!set_string(v.create_type, d.text + d.type_start, d.type_len)) {
        return Status::internal;  // is_descriptor_file_type: the longest is 20 bytes
    }
    return kOk;
}

}  // namespace

Status vmdk_read_info(ImageSource& src, Arena& arena, VmdkExtentFiles& extent_files, RecordSink& records,
                      abi::InfoResult& out) {
    __builtin_memset(&out, 0, sizeof(out));
    if (src.size() < kMagicBytes) return Status::image_invalid;
    auto* first = static_cast<uint8_t*>(arena.alloc(kSectorSize));
    if (first == nullptr) return Status::out_of_memory;
    if (!read_in_file(src, 0, first, kSectorSize)) return Status::read_failed;
    if (has_sparse_magic(first)) return read_sparse_image(src, arena, first, records, out);
    if (has_cowd_magic(first)) return Status::unsupported_feature;

    // Anything else qemu's vmdk driver reads as a descriptor file.
    Descriptor d{};
    const Status s = read_descriptor_file(src, arena, d);
    if (s != kOk) return s;
    if (extent_files.count() == 0) return list_extent_files(d, records, out);
    return read_extents(d, arena, extent_files, records, out);
}

}  // namespace instar::formats
