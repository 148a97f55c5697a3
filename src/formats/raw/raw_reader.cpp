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
        // The file's holes are the host's to know (it serves them as
        // zeroes without reading): here the file is data, and what pads its
        // last sector zeroes, as qemu maps them.
        const uint64_t file = src_.size();
        const uint64_t end = offset < file ? file : size_;
        out = BlockStatus{};
        out.bytes = max_bytes < end - offset ? max_bytes : end - offset;
        out.kind = offset < file ? BlockKind::data : BlockKind::zero;
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
    out = nullptr;
    if (!qemu_can_open(p.src)) return Status::image_invalid;
    if (p.backing || p.data_file) return Status::invalid_option;
    void* mem = p.arena.alloc(sizeof(RawReader), alignof(RawReader), false);
    if (!mem) return Status::out_of_memory;
    out = ::new (mem) RawReader(p.src);
    return kOk;
}

}  // namespace instar::formats
