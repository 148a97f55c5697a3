#include "formats/vhdx/vhdx_writer.h"

#include <new>

#include "formats/common/bits.h"
#include "formats/common/endian.h"
#include "formats/vhdx/vhdx_create.h"
#include "formats/vhdx/vhdx_structs.h"
#include "formats/vhdx/vhdx_write_log.h"

namespace instar::formats::vhdx {

namespace {

// qemu rewrites the non-current header once for the first write, twice
// more per log entry (a new log GUID) and twice after its replay (the GUID
// cleared): both headers for each.
constexpr uint64_t kUpdatesForFirstWrite = 2;
constexpr uint64_t kUpdatesPerLogEntry = 4;

constexpr uint32_t kBatEntriesPerSector = kLogSectorSize / kBatEntrySize;

}  // namespace

Status Writer::open(const abi::CreateRequest& request, uint64_t virtual_size, Arena& arena, ImageSink& sink) {
    sink_ = &sink;
    Status st = make_plan(request, virtual_size, plan_);
    if (st != kOk) return st;
    // The log holds whole entries between its start and its wrap.
    static_assert(kLogUnit % kBatLogEntryBytes == 0);

    // The image as `create` writes it; its scratch (the BAT buffer) is given
    // back at once.
    const size_t mark = arena.used();
    EmitOutput created{};
    st = vhdx_emit(EmitInput{&request, virtual_size, false, 0}, sink, arena, created);
    arena.release_to(mark);
    if (st != kOk) return st;
    if (created.file_size != plan_.file_size) return Status::internal;
    file_end_ = plan_.file_size;

    bat_sector_ = static_cast<uint8_t*>(arena.alloc(kLogSectorSize, 4096, false));
    log_entry_ = static_cast<uint8_t*>(arena.alloc(kBatLogEntryBytes, 4096, false));
    if (!bat_sector_ || !log_entry_) return Status::scratch_exceeded;

    // vhdx_open draws the session's GUID, the file write GUID of every
    // header update to come.
    guids_ = SessionGuids(request.entropy);
    guids_.next(file_write_guid_);
    first_sequence_ = first_sequence_number(request.entropy);
    return kOk;
}

Status Writer::put(uint64_t offset, const void* data, uint64_t len) {
    return sink_->write(offset, data, size_t(len)) ? kOk : Status::write_failed;
}

// vhdx_block_translate and the state switch of vhdx_co_writev: where the
// block's data goes, allocating it (vhdx_allocate_block) unless its entry
// is FULLY_PRESENT. ZERO blocks too are allocated without writing zeroes
// around the data: qemu extends the file with zeroes instead.
Status Writer::block_host(uint64_t block, uint64_t& host, bool& allocated) {
    allocated = false;
    if (block != cur_block_) {
        cur_block_ = block;
        cur_entry_ = initial_bat_entry(plan_, bat_index_of_block(plan_.bat, block));
    }
    switch (cur_entry_ & kBatStateMask) {
    case kBatFullyPresent: break;
    case kBatNotPresent:
    case kBatUndefined:
    case kBatZero:
    case kBatUnmapped:
    case kBatUnmappedV095: {
        // At the end of the file rounded up to a MiB (the entry's unit),
        // which grows by a whole block, however little of it is written.
        const uint64_t at = round_up(file_end_, kMiB);
        file_end_ = at + plan_.block_size;
        cur_entry_ = at | kBatFullyPresent;
        allocated = true;
        break;
    }
    default: return Status::internal;  // no state this image can hold
    }
    host = cur_entry_ & kBatOffsetMask;
    // qemu refuses (EFAULT) a block inside the header section.
    return host < kHeaderSectionEnd ? Status::internal : kOk;
}

// vhdx_log_write_and_flush for BAT entry `index`.
Status Writer::log_bat_entry(uint64_t index, uint64_t entry) {
    const uint64_t at = plan_.bat_offset + index * kBatEntrySize;
    const uint64_t sector = at & ~uint64_t(kLogSectorSize - 1);
    if (sector != bat_sector_offset_) {
        // Entries change in increasing order, so a sector not yet changed
        // still holds what create wrote (the BAT is MiB-aligned, so file
        // sectors are BAT sectors).
        const uint64_t first = (sector - plan_.bat_offset) / kBatEntrySize;
        for (uint32_t i = 0; i < kBatEntriesPerSector; ++i)
            store_le64(bat_sector_ + i * kBatEntrySize, initial_bat_entry(plan_, first + i));
        bat_sector_offset_ = sector;
    }
    // Read literally, qemu 7.2's vhdx_log_write reads the sector into the
    // wrong place when the entry is its first (its partial-last-sector
    // path: the rest would move up by one entry); the qemu-img 7.2 matched
    // here (Debian's 7.2+dfsg-7+deb12u18) logs the sector unshifted
    // wherever the entry is, and so does this.
    store_le64(bat_sector_ + (at - sector), entry);

    uint8_t log_guid[kGuidSize];
    guids_.next(log_guid);
    // After each replay qemu's log is empty with its write position kept:
    // the entry starts there, which is also its tail.
    build_bat_log_entry(LogEntrySpec{log_sequence_, log_write_, log_guid, file_end_, sector}, bat_sector_,
                        log_entry_);
    Status st = put(plan_.log_offset + log_write_, log_entry_, kBatLogEntryBytes);
    if (st != kOk) return st;
    // The position wraps at the log's end, which whole entries reach.
    log_write_ += kBatLogEntryBytes;
    if (log_write_ >= plan_.log_size) log_write_ = 0;
    ++log_sequence_;
    header_updates_ += kUpdatesPerLogEntry;
    // The replay: the merged sector over the BAT.
    return put(sector, bat_sector_, kLogSectorSize);
}

// vhdx_co_writev.
Status Writer::write(uint64_t offset, const uint8_t* data, uint64_t len) {
    if (offset > plan_.disk_size || len > plan_.disk_size - offset || offset < floor_ ||
        (offset | len) % kLogicalSectorSize)
        return Status::internal;
    if (len == 0) return kOk;
    floor_ = offset + len;
    // vhdx_user_visible_write: the first write gives each header a new data
    // write GUID (header 1 first: header 2 is the current one).
    if (header_updates_ == 0) {
        guids_.next(data_write_guid_[0]);
        guids_.next(data_write_guid_[1]);
        header_updates_ = kUpdatesForFirstWrite;
    }
    while (len) {
        const uint64_t block = offset / plan_.block_size;
        const uint64_t in_block = offset % plan_.block_size;
        const uint64_t n = len < plan_.block_size - in_block ? len : plan_.block_size - in_block;
        uint64_t host = 0;
        bool allocated = false;
        Status st = block_host(block, host, allocated);
        if (st == kOk) st = put(host + in_block, data, n);
        if (st == kOk && allocated) st = log_bat_entry(bat_index_of_block(plan_.bat, block), cur_entry_);
        if (st != kOk) return st;
        offset += n;
        data += n;
        len -= n;
    }
    return kOk;
}

// The headers as the last update leaves them. Updates alternate from
// header 1 on and come in pairs, so header 2 was written last and is
// current; the log GUID is back to zero after every replay.
Status Writer::write_headers() {
    if (header_updates_ == 0) return kOk;  // nothing written: as created
    uint8_t header[kHeaderStructSize];
    const uint64_t header2_sequence = first_sequence_ + 1 + header_updates_;
    HeaderSpec hs{header2_sequence - 1, file_write_guid_, data_write_guid_[0], plan_.log_size, plan_.log_offset};
    build_header(hs, header);
    Status st = put(kHeader1Offset, header, sizeof header);
    if (st != kOk) return st;
    hs.sequence = header2_sequence;
    hs.data_write_guid = data_write_guid_[1];
    build_header(hs, header);
    return put(kHeader2Offset, header, sizeof header);
}

Status Writer::finish() {
    Status st = write_headers();
    if (st != kOk) return st;
    return sink_->set_size(file_end_) ? kOk : Status::write_failed;
}

Status open_writer(const WriterOpenParams& p, ImageWriter*& out) {
    // qemu's vhdx driver has no compressed writes (the host refuses -c).
    if (p.compress) return Status::unsupported_feature;
    void* at = p.arena.alloc(sizeof(Writer), alignof(Writer));
    if (!at) return Status::scratch_exceeded;
    auto* writer = ::new (at) Writer();
    Status st = writer->open(p.request, p.virtual_size, p.arena, p.sink);
    if (st != kOk) return st;
    out = writer;
    return kOk;
}

}  // namespace instar::formats::vhdx
