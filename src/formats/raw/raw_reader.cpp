#include "formats/raw/raw_reader.h"

#include <new>

#include "formats/common/qemu_block_view.h"

namespace instar::formats {
namespace {

class RawReader final : public BlockReader {
public:
    explicit RawReader(ImageSource& src) : src_(src), size_(qemu_file_length(src)) {}

    uint64_t virtual_size() const override { return size_; }

    Status block_status(uint64_t offset, uint64_t max_bytes, BlockStatus& out) override {
        if (offset >= size_ || max_bytes == 0) return Status::internal;
        // The file's data and holes, as the host's file system reports
        // them (qemu's file driver asks the same); what pads the last
        // sector past the file's end reads as zeroes.
        const uint64_t file = src_.size();
        uint64_t run = size_ - offset;
        bool data = false;
        if (offset < file && !src_.allocation(offset, run, data)) return Status::read_failed;
        if (offset < file && data && run > file - offset) run = file - offset;
        out = BlockStatus{};
        out.bytes = max_bytes < run ? max_bytes : run;
        if (out.bytes > size_ - offset) out.bytes = size_ - offset;
        out.kind = data ? BlockKind::data : BlockKind::zero;
        out.has_host_offset = true;
        out.host_offset = offset;
        return kOk;
    }

    Status read(uint64_t offset, void* buf, size_t len) override {
        if (offset > size_ || len > size_ - offset) return Status::internal;
        return qemu_read(src_, offset, static_cast<uint8_t*>(buf), len) ? kOk : Status::read_failed;
    }

private:
    ImageSource& src_;
    uint64_t size_;
};

}  // namespace

Status raw_open_reader(const ReaderOpenParams& p, BlockReader*& out) {
    // No internal snapshots in this format.
    if (p.snapshot != ReaderOpenParams::kActiveImage) return Status::invalid_option;
    out = nullptr;
    if (!qemu_can_open(p.src)) return Status::image_invalid;
    if (p.backing || p.data_file) return Status::invalid_option;
    void* mem = p.arena.alloc(sizeof(RawReader), alignof(RawReader), false);
    if (!mem) return Status::out_of_memory;
    out = ::new (mem) RawReader(p.src);
    return kOk;
}

}  // namespace instar::formats
