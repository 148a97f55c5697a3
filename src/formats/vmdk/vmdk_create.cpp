#include "formats/vmdk/vmdk_create.h"

#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_create_plan.h"
#include "formats/vmdk/vmdk_descriptor.h"
#include "formats/vmdk/vmdk_header.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_text.h"

namespace instar::formats {

namespace {

using namespace vmdk;

// Largest piece of a grain directory assembled at once; smaller when the
// arena is short, down to one sector.
constexpr size_t kDirectoryChunkBytes = 64 * 1024;

class CountingWriter {
public:
    explicit CountingWriter(ImageSink& sink) : sink_(sink) {}
    bool write(uint64_t offset, const void* data, size_t len) {
        written_ += len;
        return sink_.write(offset, data, len);
    }
    uint64_t written() const { return written_; }

private:
    ImageSink& sink_;
    uint64_t written_ = 0;
};

SparseHeader header_for(const CreatePlan& plan) {
    const SparseLayout& l = plan.layout;
    SparseHeader h{};
    h.version = plan.stream ? kVersionStream : plan.zeroed_grain ? kVersionZeroedGrain : kVersionPlain;
    h.flags = kFlagRedundantGd | kFlagNewlineDetect;
    if (plan.stream) h.flags |= kFlagCompressed | kFlagMarkers;
    if (plan.zeroed_grain) h.flags |= kFlagZeroedGrain;
    h.capacity = l.capacity;
    h.granularity = l.grain_sectors;
    h.desc_offset = kDescriptorSector;
    h.desc_size = kDescriptorSectors;
    h.gtes_per_gt = kGtesPerGt;
    h.rgd_offset = l.rgd_offset;
    h.gd_offset = l.gd_offset;
    h.grain_offset = l.grain_offset;
    h.compress_algorithm = plan.stream ? kCompressionDeflate : kCompressionNone;
    return h;
}

// Every directory entry points at its (still empty) grain table, which
// follows the directory; the tables stay zero, i.e. all grains unallocated.
Status write_directory(CountingWriter& w, const SparseLayout& l, uint64_t dir_sector, uint8_t* chunk,
                       size_t chunk_bytes) {
    const uint64_t dir_bytes = l.gd_sectors * kSectorSize;
    const size_t entries_per_chunk = chunk_bytes / kGteBytes;
    uint64_t entry = 0;
    for (uint64_t done = 0; done < dir_bytes; done += chunk_bytes) {
        const size_t n = dir_bytes - done < chunk_bytes ? size_t(dir_bytes - done) : chunk_bytes;
        for (size_t i = 0; i < entries_per_chunk; ++i, ++entry) {
            const uint32_t v = entry < l.gt_count ? uint32_t(grain_table_sector(l, dir_sector, entry)) : 0;
            store_le32(chunk + i * kGteBytes, v);
        }
        if (!w.write(dir_sector * kSectorSize + done, chunk, n)) return Status::write_failed;
    }
    return kOk;
}

uint8_t* alloc_chunk(Arena& arena, uint64_t wanted, size_t& got) {
    size_t size = kDirectoryChunkBytes;
    while (size > kSectorSize && size / 2 >= wanted) size /= 2;
    for (; size >= kSectorSize; size /= 2) {
        if (void* p = arena.alloc(size)) {
            got = size;
            return static_cast<uint8_t*>(p);
        }
    }
    return nullptr;
}

}  // namespace

namespace vmdk {

Status render_descriptor(const CreatePlan& plan, uint32_t cid, char* desc, size_t& text_bytes) {
    __builtin_memset(desc, 0, kDescriptorBytes);
    const SparseLayout& l = plan.layout;
    TextBuilder text(desc, kDescriptorBytes);
    DescriptorFields f{};
    f.cid = cid;
    f.parent_cid = plan.parent_cid;
    f.create_type = plan.create_type;
    f.parent_hint = plan.parent_hint;
    f.extent_sectors = l.capacity;
    f.extent_file = plan.image_name;
    f.hw_version = plan.hw_version;
    f.cylinders = l.capacity / (uint64_t(kGeometrySectors) * plan.heads);
    f.heads = plan.heads;
    f.adapter_type = plan.adapter_type;
    f.tools_version = plan.tools_version;
    write_descriptor(text, f);
    // The request's string bounds keep the text far below the 20 reserved
    // sectors; overflowing them would overwrite the redundant directory.
    if (!text.ok()) return Status::internal;
    text_bytes = text.size();
    return kOk;
}

}  // namespace vmdk

Status vmdk_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out) {
    CreatePlan plan{};
    Status s = plan_vmdk_create(in, plan);
    if (s != kOk) return s;
    const SparseLayout& l = plan.layout;

    auto* header = static_cast<uint8_t*>(arena.alloc(kSectorSize));
    auto* desc = static_cast<char*>(arena.alloc(kDescriptorBytes));
    size_t chunk_bytes = 0;
    uint8_t* chunk = alloc_chunk(arena, l.gd_sectors * kSectorSize, chunk_bytes);
    if (header == nullptr || desc == nullptr || chunk == nullptr) return Status::scratch_exceeded;

    encode_sparse_header(header, header_for(plan));

    size_t text_bytes = 0;
    s = render_descriptor(plan, plan.cid, desc, text_bytes);
    if (s != kOk) return s;
    const size_t desc_bytes = (text_bytes + kSectorSize - 1) / kSectorSize * kSectorSize;

    CountingWriter w(sink);
    if (!w.write(0, header, kSectorSize)) return Status::write_failed;
    if (!w.write(kDescriptorSector * kSectorSize, desc, desc_bytes)) return Status::write_failed;
    s = write_directory(w, l, l.rgd_offset, chunk, chunk_bytes);
    if (s == kOk) s = write_directory(w, l, l.gd_offset, chunk, chunk_bytes);
    if (s != kOk) return s;

    const uint64_t file_size = l.grain_offset * kSectorSize;
    if (!sink.set_size(file_size)) return Status::write_failed;

    out.virtual_size = plan.size_bytes;
    out.metadata_bytes = w.written();
    out.file_size = file_size;
    out.unit_size = plan.grain_bytes;
    return kOk;
}

}  // namespace instar::formats
