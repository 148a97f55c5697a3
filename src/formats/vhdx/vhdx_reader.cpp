#include "formats/vhdx/vhdx_reader.h"

#include <new>

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_table_cache.h"
#include "formats/vhdx/vhdx_bat.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vhdx/vhdx_probe.h"

namespace instar::formats {
namespace {

using namespace vhdx;

// qemu keeps the whole BAT region in memory (up to 4 GiB: its length is a
// 32-bit field). Here a few windows of it are kept (the slice cache qcow2's
// tables use, which is nothing qcow2-specific): 16 KiB is 2048 entries,
// 2 GiB of disk in 1 MiB blocks and 64 GiB in the 32 MiB blocks qemu picks
// for most disks, so a read from start to end reads each window once; four
// of them let reads at different places interleave. 64 KiB in all,
// whatever the disk.
constexpr size_t kBatWindowBytes = 16 * 1024;
constexpr uint32_t kBatWindows = 4;

class VhdxReader final : public BlockReader {
public:
    VhdxReader(ImageSource& src, const VhdxImage& image)
        : src_(src),
          size_(image.virtual_size),
          block_size_(image.block_size),
          bat_offset_(image.bat_offset),
          bat_slots_(image.bat_length / kBatEntrySize),
          bat_(image.bat) {}

    Status init(Arena& arena) { return cache_.init(arena, kBatWindows, kBatWindowBytes); }

    uint64_t virtual_size() const override { return size_; }
    uint64_t cluster_size() const override { return block_size_; }

    // qemu 7.2's vhdx driver has no block status: its block layer answers
    // "data" for the whole request, with no offset (see vhdx_reader.h).
    Status block_status(uint64_t offset, uint64_t max_bytes, BlockStatus& out) override {
        if (offset >= size_ || max_bytes == 0) return Status::internal;
        out = BlockStatus{};
        out.bytes = max_bytes < size_ - offset ? max_bytes : size_ - offset;
        out.kind = BlockKind::data;
        return kOk;
    }

    // qemu's vhdx_co_readv: payload block by payload block.
    Status read(uint64_t offset, void* buf, size_t len) override {
        if (offset > size_ || len > size_ - offset) return Status::internal;
        auto* dst = static_cast<uint8_t*>(buf);
        while (len > 0) {
            const uint64_t block = offset / block_size_;
            const uint64_t in_block = offset % block_size_;
            const size_t n = block_size_ - in_block < len ? size_t(block_size_ - in_block) : len;
            uint64_t entry = 0;
            Status st = bat_entry(bat_index_of_block(bat_, block), entry);
            if (st != kOk) return st;
            switch (entry & kBatStateMask) {
            case kBatNotPresent:
            case kBatUndefined:
            case kBatZero:
            case kBatUnmapped:
            case kBatUnmappedV095:
                __builtin_memset(dst, 0, n);
                break;
            case kBatFullyPresent: {
                // vhdx_block_translate leaves a block at file offset 0 (in
                // the header section, where no block can be) without the
                // offset into the block: every part of such a block reads
                // the file from 0. The open checked that the blocks whose
                // entries qemu counts lie in the file; past its end qemu
                // reads zeroes all the same, and fails a read its block
                // layer refuses (an entry the open did not check).
                uint64_t at = entry & kBatOffsetMask;
                if (at != 0) at += in_block;
                if (!qemu_can_read(at, n)) return Status::image_invalid;
                if (!qemu_read(src_, at, dst, n)) return Status::read_failed;
                break;
            }
            default:  // partially present (a differencing image's), or 4
                return Status::image_invalid;
            }
            dst += n;
            offset += n;
            len -= n;
        }
        return kOk;
    }

private:
    // Entry `index` of the BAT. The entries qemu counts for the disk lie in
    // the region (its open checks it), but the count is 32-bit and wraps
    // for a disk of more than 2^32 blocks: then a block's entry may lie
    // past the region, where qemu reads beyond its copy of the BAT (no
    // defined answer); refused as damage. Past the end of the file the
    // table reads as zeroes (not present), as qemu read it at open.
    Status bat_entry(uint64_t index, uint64_t& entry) {
        if (index >= bat_slots_) return Status::image_invalid;
        const uint64_t at = index * kBatEntrySize;
        const uint8_t* window = nullptr;
        const Status st = cache_.get(src_, bat_offset_ + at / kBatWindowBytes * kBatWindowBytes, window);
        if (st != kOk) return st;
        entry = load_le64(window + at % kBatWindowBytes);
        return kOk;
    }

    ImageSource& src_;
    uint64_t size_;
    uint64_t block_size_;
    uint64_t bat_offset_;
    uint64_t bat_slots_;  // entries the BAT region has room for
    BatGeometry bat_;
    qcow2::TableCache cache_;
};

}  // namespace

Status vhdx_open_reader(const ReaderOpenParams& p, BlockReader*& out) {
    // No internal snapshots in this format.
    if (p.snapshot != ReaderOpenParams::kActiveImage) return Status::invalid_option;
    out = nullptr;
    if (!qemu_can_open(p.src)) return Status::image_invalid;
    // qemu's vhdx driver takes neither a backing file nor a data file.
    if (p.backing || p.data_file) return Status::invalid_option;
    // The open checks' scratch (headers, the log search's) is given back.
    const size_t mark = p.arena.used();
    VhdxImage image{};
    Status st = vhdx_open(p.src, p.arena, image);
    p.arena.release_to(mark);
    if (st != kOk) return st;

    void* mem = p.arena.alloc(sizeof(VhdxReader), alignof(VhdxReader), false);
    if (!mem) return Status::out_of_memory;
    auto* reader = ::new (mem) VhdxReader(p.src, image);
    st = reader->init(p.arena);
    if (st != kOk) return st;
    out = reader;
    return kOk;
}

}  // namespace instar::formats
