#include "formats/vpc/vpc_writer.h"

#include <new>

#include "formats/common/endian.h"
#include "formats/vpc/vpc_create.h"
#include "formats/vpc/vpc_layout.h"

namespace instar::formats::vpc {
namespace {

constexpr uint64_t kEntriesPerBatSector = kSectorSize / 4;

class Writer final : public ImageWriter {
public:
    Status open(const WriterOpenParams& p) {
        if (p.compress) return Status::unsupported_feature;
        sink_ = &p.sink;
        const EmitInput in{&p.request, p.virtual_size, false, 0};
        if (Status s = vpc_plan(in, image_); s != kOk) return s;
        EmitOutput created{};
        if (Status s = vpc_emit(in, p.sink, p.arena, created); s != kOk) return s;
        if (!image_.dynamic) return kOk;
        bitmap_bytes_ = block_bitmap_bytes(image_.block_size);
        bitmap_ = static_cast<uint8_t*>(p.arena.alloc(bitmap_bytes_, 16, false));
        if (!bitmap_) return Status::scratch_exceeded;
        __builtin_memset(bitmap_, 0xff, bitmap_bytes_);
        free_at_ = image_.data_start;
        return kOk;
    }

    Status write(uint64_t offset, const uint8_t* data, uint64_t len) override {
        if (offset % kSectorSize || len % kSectorSize || offset > image_.disk_bytes ||
            len > image_.disk_bytes - offset)
            return Status::internal;
        if (!image_.dynamic) return sink_->write(offset, data, len) ? kOk : Status::write_failed;
        while (len) {
            const uint64_t block = offset / image_.block_size;
            const uint64_t in_block = offset % image_.block_size;
            const uint64_t n = len < image_.block_size - in_block ? len : image_.block_size - in_block;
            uint64_t at = 0;
            if (Status s = block_offset(block, at); s != kOk) return s;
            if (!sink_->write(at + bitmap_bytes_ + in_block, data, n)) return Status::write_failed;
            offset += n;
            data += n;
            len -= n;
        }
        return kOk;
    }

    uint64_t cluster_size() const override { return image_.dynamic ? image_.block_size : 0; }
    uint64_t virtual_size() const override { return image_.disk_bytes; }

    Status finish() override {
        if (!image_.dynamic) return kOk;  // created whole: the footer is in place
        if (Status s = flush_bat(); s != kOk) return s;
        // The footer behind the last block (rewrite_footer); the copy at 0
        // stays as created.
        if (!sink_->write(free_at_, image_.footer, kFooterSize)) return Status::write_failed;
        return sink_->set_size(file_size()) ? kOk : Status::write_failed;
    }

    uint64_t file_size() const override { return image_.dynamic ? free_at_ + kFooterSize : image_.file_size; }

private:
    // Where block `block`'s bitmap starts in the file, allocating the block
    // at the end (alloc_block) on its first write.
    Status block_offset(uint64_t block, uint64_t& at) {
        if (block == last_block_) {
            at = last_block_at_;
            return kOk;
        }
        // Guest order: each block is first written after every block
        // before it, so a block not the last one written is new.
        if (last_block_ != kNone && block < last_block_) return Status::internal;
        const uint64_t sector = block / kEntriesPerBatSector;
        if (sector != bat_sector_) {
            if (Status s = flush_bat(); s != kOk) return s;
            __builtin_memset(bat_, kBatFillByte, sizeof bat_);
            bat_sector_ = sector;
        }
        // BAT entries are sector numbers: the file stays below 2 TiB + a
        // bit for the largest disk, so they fit 32 bits.
        if (free_at_ / kSectorSize >= kBatUnallocated) return Status::size_out_of_range;
        store_be32(bat_ + (block % kEntriesPerBatSector) * 4, uint32_t(free_at_ / kSectorSize));
        bat_dirty_ = true;
        if (!sink_->write(free_at_, bitmap_, bitmap_bytes_)) return Status::write_failed;
        at = free_at_;
        free_at_ += bitmap_bytes_ + image_.block_size;
        last_block_ = block;
        last_block_at_ = at;
        return kOk;
    }

    Status flush_bat() {
        if (!bat_dirty_) return kOk;
        bat_dirty_ = false;
        return sink_->write(kBatOffset + bat_sector_ * kSectorSize, bat_, sizeof bat_) ? kOk : Status::write_failed;
    }

    static constexpr uint64_t kNone = ~uint64_t(0);

    ImageSink* sink_ = nullptr;
    VpcCreatePlan image_{};
    uint64_t bitmap_bytes_ = 0;
    uint8_t* bitmap_ = nullptr;  // a new block's bitmap: every sector present
    uint64_t free_at_ = 0;       // the first byte behind the last block (qemu's free_data_block_offset)
    uint64_t last_block_ = kNone;
    uint64_t last_block_at_ = 0;
    // The BAT sector the allocations are filling, as it will be on disk.
    uint8_t bat_[kSectorSize];
    uint64_t bat_sector_ = kNone;
    bool bat_dirty_ = false;
};

}  // namespace

Status open_writer(const WriterOpenParams& p, ImageWriter*& out) {
    void* at = p.arena.alloc(sizeof(Writer), alignof(Writer));
    if (!at) return Status::scratch_exceeded;
    auto* writer = ::new (at) Writer();
    if (Status s = writer->open(p); s != kOk) return s;
    out = writer;
    return kOk;
}

}  // namespace instar::formats::vpc
