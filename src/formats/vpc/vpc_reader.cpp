#include "formats/vpc/vpc_reader.h"

#include <new>

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_table_cache.h"
#include "formats/vpc/vpc_layout.h"
#include "formats/vpc/vpc_probe.h"

namespace instar::formats {
namespace {

using namespace vpc;

// qemu keeps the whole BAT in memory: 4 bytes a block, so 4 MiB for a
// 2 TiB disk of 2 MiB blocks, but up to 2 GiB for the 512-byte blocks it
// also opens. Here a few windows of it are kept (the slice cache qcow2's
// tables use, which is nothing qcow2-specific): 16 KiB is 4096 blocks, 8 GiB
// of a default disk, so a walk from start to end reads each window once,
// and four of them let reads and block status interleave at different
// places; 64 KiB in all, whatever the disk.
constexpr size_t kBatWindowBytes = 16 * 1024;
constexpr uint32_t kBatWindows = 4;
constexpr uint64_t kBatEntryBytes = 4;

class VpcReader final : public BlockReader {
public:
    VpcReader(ImageSource& src, const VpcImage& image)
        : src_(src),
          size_(image.virtual_size),
          fixed_(image.disk_type == kDiskTypeFixed),
          block_size_(image.block_size),
          bitmap_size_(image.bitmap_size),
          bat_offset_(image.bat_offset),
          bat_entries_(image.bat_entries) {}

    Status init(Arena& arena) { return fixed_ ? kOk : bat_.init(arena, kBatWindows, kBatWindowBytes); }

    uint64_t virtual_size() const override { return size_; }
    uint64_t cluster_size() const override { return fixed_ ? 0 : block_size_; }

    Status block_status(uint64_t offset, uint64_t max_bytes, BlockStatus& out) override {
        if (offset >= size_ || max_bytes == 0) return Status::internal;
        const uint64_t end = offset + (max_bytes < size_ - offset ? max_bytes : size_ - offset);
        out = BlockStatus{};
        return fixed_ ? fixed_status(offset, end, out) : dynamic_status(offset, end, out);
    }

    Status read(uint64_t offset, void* buf, size_t len) override {
        if (offset > size_ || len > size_ - offset) return Status::internal;
        auto* dst = static_cast<uint8_t*>(buf);
        while (len > 0) {
            BlockStatus s;
            const Status st = block_status(offset, len, s);
            if (st != kOk) return st;
            const size_t n = size_t(s.bytes);
            if (s.kind == BlockKind::data) {
                // Blocks end inside the file (vpc_open checks it, as qemu
                // does); a fixed disk may reach past its end, read as
                // zeroes there.
                if (!qemu_read(src_, s.host_offset, dst, n)) return Status::read_failed;
            } else {
                __builtin_memset(dst, 0, n);
            }
            dst += n;
            offset += n;
            len -= n;
        }
        return kOk;
    }

private:
    // qemu reads a fixed disk straight from the file at the disk's offsets
    // (its block status says data there, at that offset, and asks the file
    // layer on: a hole in the file reads as zeroes). Past the end of the
    // file, as when a footer's size claims more than the file holds, it
    // reads zeroes: a zero run with its offset (qemu's map says data and
    // zero there, the file layer's answer).
    Status fixed_status(uint64_t offset, uint64_t end, BlockStatus& out) const {
        const uint64_t file = src_.size();
        uint64_t stop = offset < file ? (file < end ? file : end) : end;
        bool data = offset < file;
        uint64_t run = 0;
        if (data && !src_.allocation(offset, run, data)) return Status::read_failed;
        if (offset < file && run < stop - offset) stop = offset + run;
        out.bytes = stop - offset;
        out.kind = data ? BlockKind::data : BlockKind::zero;
        out.has_host_offset = true;
        out.host_offset = offset;
        return kOk;
    }

    // qemu's vpc_co_block_status for a dynamic disk: an allocated block is
    // data, contiguous in the file up to the block's end (the next block
    // has its bitmap in between); unallocated blocks in a row are one run
    // of zeroes, which qemu reads as such (the per-sector bitmaps are
    // never consulted: qemu writes them all ones and reads whole blocks).
    Status dynamic_status(uint64_t offset, uint64_t end, BlockStatus& out) {
        uint64_t block = offset / block_size_;
        uint32_t entry = 0;
        Status st = bat_entry(block, entry);
        if (st != kOk) return st;
        uint64_t block_end = (block + 1) * block_size_;
        if (entry != kBatUnallocated) {
            out.bytes = (block_end < end ? block_end : end) - offset;
            out.kind = BlockKind::data;
            out.has_host_offset = true;
            out.host_offset = uint64_t(entry) * kSectorSize + bitmap_size_ + (offset - block * block_size_);
            return kOk;
        }
        while (block_end < end) {
            st = bat_entry(++block, entry);
            if (st != kOk) return st;
            if (entry != kBatUnallocated) break;
            block_end += block_size_;
        }
        out.bytes = (block_end < end ? block_end : end) - offset;
        out.kind = BlockKind::zero;
        return kOk;
    }

    // Entry `index` of the BAT. Past the table (a disk smaller than its
    // BAT covers never asks) there is no block, as in qemu's
    // get_image_offset; past the end of the file the table reads as
    // zeroes, as qemu read it at open.
    Status bat_entry(uint64_t index, uint32_t& entry) {
        if (index >= bat_entries_) {
            entry = kBatUnallocated;
            return kOk;
        }
        const uint64_t at = index * kBatEntryBytes;
        const uint8_t* window = nullptr;
        const Status st = bat_.get(src_, bat_offset_ + at / kBatWindowBytes * kBatWindowBytes, window);
        if (st != kOk) return st;
        entry = load_be32(window + at % kBatWindowBytes);
        return kOk;
    }

    ImageSource& src_;
    uint64_t size_;
    bool fixed_;
    uint64_t block_size_;
    uint64_t bitmap_size_;
    uint64_t bat_offset_;
    uint64_t bat_entries_;
    qcow2::TableCache bat_;
};

}  // namespace

Status vpc_open_reader(const ReaderOpenParams& p, BlockReader*& out) {
    // No internal snapshots in this format.
    if (p.snapshot != ReaderOpenParams::kActiveImage) return Status::invalid_option;
    out = nullptr;
    if (!qemu_can_open(p.src)) return Status::image_invalid;
    // qemu's vpc driver takes neither a backing file nor a data file.
    if (p.backing || p.data_file) return Status::invalid_option;
    // The open checks' scratch (the footer, a BAT chunk) is given back.
    const size_t mark = p.arena.used();
    VpcImage image{};
    Status st = vpc_open(p.src, p.arena, image);
    p.arena.release_to(mark);
    if (st != kOk) return st;

    void* mem = p.arena.alloc(sizeof(VpcReader), alignof(VpcReader), false);
    if (!mem) return Status::out_of_memory;
    auto* reader = ::new (mem) VpcReader(p.src, image);
    st = reader->init(p.arena);
    if (st != kOk) return st;
    out = reader;
    return kOk;
}

}  // namespace instar::formats
