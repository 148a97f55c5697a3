// Data written into a new vhdx image the way qemu 7.2's vhdx driver writes
// it when `qemu-img convert` fills the image it has just created
// (vhdx_co_writev):
//
// - The first write changes the image's identity: both headers are
//   rewritten with the session's file write GUID and a new data write GUID
//   each (vhdx_user_visible_write).
// - A block whose BAT entry is FULLY_PRESENT (a fixed image made without
//   block_state_zero) takes the data in place. Any other block (NOT_PRESENT,
//   or ZERO, which qemu also gives a fixed image by default) is allocated
//   at the end of the file rounded up to a MiB, the file grows by a whole
//   block, the data goes in, and the new BAT entry goes through the log
//   (vhdx_write_log.h): a new log GUID into both headers, the entry written
//   at the log's write position, replayed, the log GUID cleared from both
//   headers again. Every allocation thus moves the header sequence on by 4.
//
// Writes arrive in guest order, so a block once left is never seen again:
// only the current block's entry and the BAT sector being changed are
// held, whatever the disk's size (qemu holds the whole BAT: up to 512 MiB
// for 64 TiB in 1 MiB blocks). The headers, which qemu rewrites on every
// change, are written once by finish(), as they end.
#pragma once

#include <stdint.h>

#include "formats/block/image_writer.h"
#include "formats/vhdx/vhdx_identity.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vhdx/vhdx_plan.h"

namespace instar::formats::vhdx {

class Writer final : public ImageWriter {
public:
    // Creates the image through `sink` as `create` does, then opens it.
    Status open(const abi::CreateRequest& request, uint64_t virtual_size, Arena& arena, ImageSink& sink);
    Status write(uint64_t offset, const uint8_t* data, uint64_t len) override;
    Status finish() override;

    uint64_t cluster_size() const override { return plan_.block_size; }
    uint64_t virtual_size() const override { return plan_.disk_size; }
    uint64_t file_size() const override { return file_end_; }
    // Payload blocks allocated (and BAT entries logged) so far.
    uint64_t allocations() const { return log_sequence_ - 1; }

private:
    Status block_host(uint64_t block, uint64_t& host, bool& allocated);
    Status log_bat_entry(uint64_t index, uint64_t entry);
    Status write_headers();
    Status put(uint64_t offset, const void* data, uint64_t len);

    Plan plan_{};
    SessionGuids guids_;
    uint64_t first_sequence_ = 0;  // header 1's at creation
    ImageSink* sink_ = nullptr;
    uint64_t file_end_ = 0;
    uint64_t floor_ = 0;  // where the next write may start

    // qemu's in-memory BAT, as far as it can still matter: the entry of the
    // block the last write touched. Every later block's is still the one
    // create wrote (initial_bat_entry).
    uint64_t cur_block_ = ~uint64_t(0);
    uint64_t cur_entry_ = 0;

    // The BAT sector last changed, as the file holds it.
    uint8_t* bat_sector_ = nullptr;
    uint64_t bat_sector_offset_ = 0;  // 0: none loaded (the BAT is never at 0)
    uint8_t* log_entry_ = nullptr;

    // qemu's log state: the write position (where the next entry goes, also
    // its tail), the next sequence number.
    uint32_t log_write_ = 0;
    uint64_t log_sequence_ = 1;

    // Header updates so far, and the GUIDs the first one drew.
    uint64_t header_updates_ = 0;
    uint8_t file_write_guid_[kGuidSize] = {};
    uint8_t data_write_guid_[2][kGuidSize] = {};
};

// FormatDriver::open_writer for vhdx.
Status open_writer(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats::vhdx
