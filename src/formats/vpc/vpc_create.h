// `create -f vpc`: writes a VHD image byte-identical to qemu-img 7.2's
// (apart from the timestamp, UUID and footer checksum, which come from the
// request's timestamp and entropy).
#pragma once

#include "formats/common/emitter.h"
#include "formats/vpc/vpc_layout.h"

namespace instar::formats {

// The image `create` makes for a request: what vpc_emit writes and what
// convert's writer (vpc_writer.h) then fills.
struct VpcCreatePlan {
    uint8_t footer[vpc::kFooterSize];
    bool dynamic;
    uint64_t disk_bytes;  // the disk as the image records it (CHS-rounded)
    uint64_t file_size;   // as created
    // Dynamic images: the block size, the BAT's entries and bytes (whole
    // sectors, all unallocated), and where the first block goes: right
    // behind the BAT, where the created file's footer copy sits.
    uint32_t block_size;
    uint64_t bat_entries;
    uint64_t bat_bytes;
    uint64_t data_start;
};

// Checks the request as vpc_emit does and lays the image out.
Status vpc_plan(const EmitInput& in, VpcCreatePlan& out);

// Entropy use: request->entropy[0..15] becomes the footer UUID (stamped as
// a version-4 UUID, as qemu does). The footer timestamp is
// request->timestamp moved to the VHD epoch (2000-01-01), wrapped to 32 bits.
Status vpc_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

}  // namespace instar::formats
