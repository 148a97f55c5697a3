#include "formats/vpc/vpc_create.h"

#include "formats/common/bits.h"
#include "formats/common/uuid.h"
#include "formats/vpc/vpc_geometry.h"
#include "formats/vpc/vpc_layout.h"
#include "formats/vpc/vpc_structs.h"
#include "formats/vpc/vpc_uuid.h"

namespace instar::formats {

using namespace vpc;

namespace {

// The only flags that mean something for vpc. A backing file is refused:
// qemu's vpc driver cannot create differencing images.
constexpr uint32_t kAcceptedFlags = abi::kCreateHasSize | abi::kCreateForceSize;

// Largest scratch piece used to write the BAT; smaller arenas still work.
constexpr size_t kBatChunkMax = 64 * 1024;
constexpr size_t kBatChunkMin = 512;

constexpr uint64_t kMaxRequestBytes = uint64_t(INT64_MAX) - (kSectorSize - 1);

Status check_request(const abi::CreateRequest& req) {
    if (req.format != uint32_t(abi::Format::vpc)) return Status::invalid_option;
    if ((req.flags & ~kAcceptedFlags) != 0) return Status::invalid_option;
    if ((req.flags & abi::kCreateHasSize) == 0) return Status::invalid_option;
    // qemu's vpc driver accepts every preallocation mode and ignores it.
    if (req.preallocation > uint32_t(abi::Preallocation::full)) return Status::invalid_option;
    if (req.vpc_subformat == uint32_t(abi::VpcSubformat::dynamic)) {
        uint32_t bs = req.vpc_block_size;
        if (!is_power_of_two(bs) || bs < kMinBlockSize || bs > kMaxBlockSize) return Status::invalid_option;
    } else if (req.vpc_subformat != uint32_t(abi::VpcSubformat::fixed)) {
        return Status::invalid_option;
    }
    return kOk;
}

// Every BAT sector full of 0xFF, padding past the last entry included, as
// qemu writes it.
Status write_bat(MetadataWriter& w, Arena& arena, uint64_t bat_bytes) {
    size_t chunk = kBatChunkMax;
    uint8_t* buf = nullptr;
    while (chunk >= kBatChunkMin && (buf = static_cast<uint8_t*>(arena.alloc(chunk))) == nullptr) chunk /= 2;
    if (buf == nullptr) return Status::scratch_exceeded;
    __builtin_memset(buf, kBatFillByte, chunk);
    for (uint64_t done = 0; done < bat_bytes;) {
        uint64_t left = bat_bytes - done;
        size_t n = left < chunk ? size_t(left) : chunk;
        if (!w.write(kBatOffset + done, buf, n)) return Status::write_failed;
        done += n;
    }
    return kOk;
}

}  // namespace

Status vpc_plan(const EmitInput& in, VpcCreatePlan& out) {
    out = VpcCreatePlan{};
    if (in.request == nullptr) return Status::internal;
    const abi::CreateRequest& req = *in.request;
    if (Status s = check_request(req); s != kOk) return s;

    // qemu silently rounds the size up to whole sectors.
    if (in.virtual_size > kMaxRequestBytes) return Status::size_out_of_range;
    uint64_t bytes = (in.virtual_size + kSectorSize - 1) & ~(kSectorSize - 1);
    bool force_size = (req.flags & abi::kCreateForceSize) != 0;
    VpcSize size;
    if (Status s = resolve_size(bytes, force_size, size); s != kOk) return s;
    out.disk_bytes = size.total_sectors * kSectorSize;
    out.dynamic = req.vpc_subformat == uint32_t(abi::VpcSubformat::dynamic);

    uint8_t uuid[kUuidSize];
    make_uuid_v4(req.entropy + kUuidEntropyOffset, uuid);
    build_footer(FooterSpec{out.dynamic, force_size, out.disk_bytes, size.chs, vhd_timestamp(req.timestamp), uuid},
                 out.footer);
    if (out.dynamic) {
        out.block_size = req.vpc_block_size;
        uint64_t sectors_per_block = req.vpc_block_size / kSectorSize;
        // At most 2040 GiB / 512 KiB entries: fits the 32-bit field.
        out.bat_entries = (size.total_sectors + sectors_per_block - 1) / sectors_per_block;
        out.bat_bytes = (out.bat_entries * 4 + kSectorSize - 1) & ~(kSectorSize - 1);
        out.data_start = kBatOffset + out.bat_bytes;
        out.file_size = out.data_start + kFooterSize;
    } else {
        out.file_size = out.disk_bytes + kFooterSize;
    }
    return kOk;
}

Status vpc_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out) {
    out = EmitOutput{};
    VpcCreatePlan image;
    if (Status s = vpc_plan(in, image); s != kOk) return s;

    MetadataWriter w(sink, out);
    if (image.dynamic) {
        uint8_t dyn_header[kDynHeaderSize];
        build_dyn_header(image.block_size, uint32_t(image.bat_entries), dyn_header);
        // The footer's copy ends the file, where the first block will go.
        if (!w.write(0, image.footer, kFooterSize)) return Status::write_failed;
        if (!w.write(kDynHeaderOffset, dyn_header, kDynHeaderSize)) return Status::write_failed;
        if (Status s = write_bat(w, arena, image.bat_bytes); s != kOk) return s;
        if (!w.write(image.data_start, image.footer, kFooterSize)) return Status::write_failed;
        out.unit_size = image.block_size;
    } else {
        // The data area is a hole; only the footer behind it is written.
        if (!w.write(image.disk_bytes, image.footer, kFooterSize)) return Status::write_failed;
        out.unit_size = 0;
    }
    if (!sink.set_size(image.file_size)) return Status::write_failed;
    out.file_size = image.file_size;
    out.virtual_size = image.disk_bytes;
    return kOk;
}

}  // namespace instar::formats
