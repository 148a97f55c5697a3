#include "formats/vhdx/vhdx_plan.h"

#include "formats/common/bits.h"
#include "formats/vhdx/vhdx_layout.h"

namespace instar::formats::vhdx {

namespace {

constexpr uint32_t kAcceptedFlags = abi::kCreateHasSize | abi::kCreateBlockStateZero;
constexpr uint64_t kGiB = 1024 * kMiB;

// qemu's automatic choice: keep the BAT small enough to load into RAM.
uint32_t auto_block_size(uint64_t disk_size) {
    if (disk_size > 32 * kTiB) return 64 * kMiB;
    if (disk_size > 100 * kGiB) return 32 * kMiB;
    if (disk_size > 1 * kGiB) return 16 * kMiB;
    return 8 * kMiB;
}

Status check_flags(const abi::CreateRequest& req) {
    if (req.format != uint32_t(abi::Format::vhdx)) return Status::invalid_option;
    // A backing file is refused: qemu cannot create differencing VHDX.
    if ((req.flags & ~kAcceptedFlags) != 0) return Status::invalid_option;
    if ((req.flags & abi::kCreateHasSize) == 0) return Status::invalid_option;
    // qemu's vhdx driver accepts every preallocation mode and ignores it.
    if (req.preallocation > uint32_t(abi::Preallocation::full)) return Status::invalid_option;
    if (req.vhdx_subformat > uint32_t(abi::VhdxSubformat::fixed)) return Status::invalid_option;
    return kOk;
}

}  // namespace

Status make_plan(const abi::CreateRequest& req, uint64_t virtual_size, Plan& out) {
    if (Status s = check_flags(req); s != kOk) return s;

    // qemu rounds the size up to whole sectors, the log and block sizes up to
    // whole MiB, and clamps the block size to the maximum, all silently.
    if (virtual_size > kMaxImageSize) return Status::size_out_of_range;
    uint64_t disk_size = round_up(virtual_size, kLogicalSectorSize);
    if (disk_size > kMaxImageSize) return Status::size_out_of_range;

    if (req.vhdx_log_size > uint64_t(INT64_MAX)) return Status::invalid_option;
    uint64_t log_size = round_up(req.vhdx_log_size, kLogUnit);
    if (log_size > 0xFFFFFFFFu || log_size < kLogUnit) return Status::invalid_option;

    uint64_t block_size = round_up(req.vhdx_block_size, kMiB);
    if (block_size == 0) block_size = auto_block_size(disk_size);
    if (block_size > kMaxBlockSize) block_size = kMaxBlockSize;
    if ((block_size & (block_size - 1)) != 0) return Status::invalid_option;

    out.fixed = req.vhdx_subformat == uint32_t(abi::VhdxSubformat::fixed);
    out.zero_blocks = (req.flags & abi::kCreateBlockStateZero) != 0;
    out.disk_size = disk_size;
    out.block_size = uint32_t(block_size);
    out.log_size = uint32_t(log_size);
    out.bat = bat_geometry(disk_size, out.block_size);
    out.log_offset = kHeaderSectionEnd;
    out.bat_offset = round_up(kHeaderSectionEnd + log_size, kMiB);
    out.bat_length = uint32_t(round_up(uint64_t(out.bat.entries) * kBatEntrySize, kMiB));
    out.metadata_offset = round_up(out.bat_offset + out.bat_length, kMiB);
    out.payload_offset = out.bat_offset + out.bat_length + kPayloadGap;
    out.file_size = out.payload_offset + (out.fixed ? disk_size : 0);
    return kOk;
}

uint64_t initial_bat_entry(const Plan& plan, uint64_t index) {
    const uint64_t group = uint64_t(plan.bat.chunk_ratio) + 1;
    if (index % group == plan.bat.chunk_ratio) return kBatNotPresent;  // a sector-bitmap entry
    const uint64_t block = index - index / group;
    if (block >= plan.bat.data_blocks) return kBatNotPresent;
    if (plan.zero_blocks) return kBatZero;  // ZERO entries carry no offset
    // Payload blocks follow each other from the payload offset on; both are
    // whole MiB, as the entry's offset field requires.
    if (plan.fixed) return (plan.payload_offset + block * plan.block_size) | kBatFullyPresent;
    return kBatNotPresent;
}

}  // namespace instar::formats::vhdx
