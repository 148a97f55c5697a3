#include "formats/vhdx/vhdx_create.h"

#include "formats/common/endian.h"
#include "formats/common/uuid.h"
#include "formats/vhdx/vhdx_identity.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vhdx/vhdx_plan.h"
#include "formats/vhdx/vhdx_structs.h"

namespace instar::formats {

using namespace vhdx;

namespace {

constexpr size_t kBatChunkMax = 64 * 1024;
constexpr size_t kBatChunkMin = 512;

// qemu fills the BAT for fixed images (payload blocks present, in order
// after the gap) and for ZERO-state images; a dynamic image without ZERO
// states keeps an all-zero BAT, which needs no write.
Status write_bat(MetadataWriter& w, Arena& arena, const Plan& p) {
    if (!p.fixed && !p.zero_blocks) return kOk;
    if (p.bat.data_blocks == 0) return kOk;
    uint64_t count = bat_index_of_block(p.bat, p.bat.data_blocks - 1) + 1;

    size_t chunk = kBatChunkMax;
    uint8_t* buf = nullptr;
    while (chunk >= kBatChunkMin && (buf = static_cast<uint8_t*>(arena.alloc(chunk))) == nullptr) chunk /= 2;
    if (buf == nullptr) return Status::scratch_exceeded;
    uint64_t per_chunk = chunk / kBatEntrySize;

    for (uint64_t start = 0; start < count; start += per_chunk) {
        uint64_t n = count - start < per_chunk ? count - start : per_chunk;
        for (uint64_t i = 0; i < n; ++i) store_le64(buf + i * kBatEntrySize, initial_bat_entry(p, start + i));
        if (!w.write(p.bat_offset + start * kBatEntrySize, buf, size_t(n * kBatEntrySize))) {
            return Status::write_failed;
        }
    }
    return kOk;
}

}  // namespace

Status vhdx_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out) {
    out = EmitOutput{};
    if (in.request == nullptr) return Status::internal;
    const abi::CreateRequest& req = *in.request;
    Plan plan;
    if (Status s = make_plan(req, in.virtual_size, plan); s != kOk) return s;

    uint8_t file_write_guid[kGuidSize];
    uint8_t data_write_guid[kGuidSize];
    uint8_t page83[kGuidSize];
    make_uuid_v4(req.entropy + kFileWriteGuidEntropy, file_write_guid);
    make_uuid_v4(req.entropy + kDataWriteGuidEntropy, data_write_guid);
    make_uuid_v4(req.entropy + kPage83Entropy, page83);
    uint64_t sequence = first_sequence_number(req.entropy);

    MetadataWriter w(sink, out);
    uint8_t file_id[kFileIdBytes];
    build_file_identifier(file_id);
    if (!w.write(kFileIdOffset, file_id, sizeof file_id)) return Status::write_failed;

    // Header 2 is one sequence number ahead, so it is the current one.
    uint8_t header[kHeaderStructSize];
    HeaderSpec hs{sequence, file_write_guid, data_write_guid, plan.log_size, plan.log_offset};
    build_header(hs, header);
    if (!w.write(kHeader1Offset, header, sizeof header)) return Status::write_failed;
    hs.sequence = sequence + 1;
    build_header(hs, header);
    if (!w.write(kHeader2Offset, header, sizeof header)) return Status::write_failed;

    uint8_t region_table[kRegionTableBytes];
    build_region_table(plan, region_table);
    if (!w.write(kRegionTable1Offset, region_table, sizeof region_table)) return Status::write_failed;
    if (!w.write(kRegionTable2Offset, region_table, sizeof region_table)) return Status::write_failed;

    if (Status s = write_bat(w, arena, plan); s != kOk) return s;

    uint8_t table[kMetadataTableBytes];
    build_metadata_table(table);
    if (!w.write(plan.metadata_offset, table, sizeof table)) return Status::write_failed;
    uint8_t items[kMetadataItemBytes];
    build_metadata_items(plan, page83, items);
    if (!w.write(plan.metadata_offset + kMetadataItemsOffset, items, sizeof items)) return Status::write_failed;

    // A fixed image's payload lies inside the file, unallocated, exactly as
    // qemu leaves it (it only truncates, whatever the preallocation mode).
    if (!sink.set_size(plan.file_size)) return Status::write_failed;
    out.virtual_size = plan.disk_size;
    out.file_size = plan.file_size;
    out.unit_size = plan.block_size;
    return kOk;
}

}  // namespace instar::formats
