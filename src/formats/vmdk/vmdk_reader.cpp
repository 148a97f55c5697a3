#include "formats/vmdk/vmdk_reader.h"

#include <new>

#include "formats/common/bits.h"
#include "formats/common/compression.h"
#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_table_cache.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_sparse_open.h"

namespace instar::formats {
namespace {

using vmdk::kSectorSize;

// The grain directory is read in windows (qemu reads it whole at open);
// grain tables are cached as qemu caches them (L2_CACHE_SIZE of them).
constexpr size_t kGdWindowBytes = 16 * 1024;
constexpr uint32_t kGdWindows = 4;
constexpr uint32_t kGtSlots = 16;
using vmdk::kGrainMarkerBytes;
using vmdk::kGteZeroed;
// streamOptimized: the largest grain instar decompresses.
constexpr uint64_t kMaxCompressedGrainBytes = 2u << 20;

class VmdkReader final : public BlockReader {
public:
    VmdkReader(ImageSource& src, const vmdk::SparseHeader& h, const vmdk::DescriptorKeys& keys, BlockReader* backing)
        : src_(src),
          backing_(backing),
          cid_(keys.cid),
          // vmdk_is_cid_valid: a parent that is a vmdk whose CID is our parentCID.
          parent_cid_valid_([&] {
              uint32_t cid = 0;
              return backing && backing->vmdk_cid(cid) && cid == keys.parent_cid;
          }()),
          size_(h.capacity * kSectorSize),
          grain_bytes_(h.granularity * kSectorSize),
          gtes_per_gt_(h.gtes_per_gt),
          gd_offset_(h.gd_offset * kSectorSize),
          gd_entries_(div_round_up(h.capacity, uint64_t(h.gtes_per_gt) * h.granularity)),
          compressed_(h.compress_algorithm == vmdk::kCompressionDeflate),
          markers_((h.flags & vmdk::kFlagMarkers) != 0),
          zeroed_grains_((h.flags & vmdk::kFlagZeroedGrain) != 0) {}

    Status init(Arena& arena) {
        Status st = gd_.init(arena, kGdWindows, kGdWindowBytes);
        if (st == kOk) st = gt_.init(arena, kGtSlots, size_t(gtes_per_gt_) * vmdk::kGteBytes);
        if (st != kOk || !compressed_) return st;
        if (grain_bytes_ > kMaxCompressedGrainBytes) return Status::unsupported_feature;
        st = make_grain_decompressor(arena, decompressor_);
        if (st != kOk) return st;
        packed_ = static_cast<uint8_t*>(arena.alloc(2 * grain_bytes_, 16, false));
        grain_ = static_cast<uint8_t*>(arena.alloc(grain_bytes_, 16, false));
        return packed_ && grain_ ? kOk : Status::out_of_memory;
    }

    uint64_t virtual_size() const override { return size_; }
    uint64_t cluster_size() const override { return grain_bytes_; }
    bool vmdk_cid(uint32_t& cid) const override {
        cid = cid_;
        return true;
    }

    // vmdk_co_block_status: the rest of one grain.
    Status block_status(uint64_t offset, uint64_t max_bytes, BlockStatus& out) override {
        if (offset >= size_ || max_bytes == 0) return Status::internal;
        Grain g{};
        const Status st = lookup(offset, g);
        if (st != kOk) return st;
        const uint64_t in_grain = offset % grain_bytes_;
        out = BlockStatus{};
        out.bytes = grain_bytes_ - in_grain;
        if (out.bytes > max_bytes) out.bytes = max_bytes;
        if (out.bytes > size_ - offset) out.bytes = size_ - offset;
        out.kind = g.kind;
        if (g.kind == BlockKind::data && !compressed_) {
            out.has_host_offset = true;
            out.host_offset = g.sector * kSectorSize + in_grain;
        }
        return kOk;
    }

    Status read(uint64_t offset, void* buf, size_t len) override {
        if (offset > size_ || len > size_ - offset) return Status::internal;
        auto* out = static_cast<uint8_t*>(buf);
        while (len) {
            const uint64_t in_grain = offset % grain_bytes_;
            const uint64_t n = grain_bytes_ - in_grain < len ? grain_bytes_ - in_grain : len;
            Grain g{};
            Status st = lookup(offset, g);
            if (st != kOk) return st;
            if (g.kind == BlockKind::unallocated && backing_) {
                // The parent's bytes, once its CID is checked (qemu fails
                // the read with -EINVAL otherwise); zeroes past its end.
                if (!parent_cid_valid_) return Status::image_invalid;
                const uint64_t parent = backing_->virtual_size();
                const uint64_t from_parent = offset >= parent ? 0 : (parent - offset < n ? parent - offset : n);
                if (from_parent) {
                    st = backing_->read(offset, out, size_t(from_parent));
                    if (st != kOk) return st;
                }
                __builtin_memset(out + from_parent, 0, n - from_parent);
            } else if (g.kind != BlockKind::data) {
                __builtin_memset(out, 0, n);
            } else if (!compressed_) {
                if (!read_in_file(g.sector * kSectorSize + in_grain, out, n)) return Status::read_failed;
            } else {
                st = read_compressed(g.sector, in_grain, out, n);
                if (st != kOk) return st;
            }
            offset += n;
            out += n;
            len -= n;
        }
        return kOk;
    }

private:
    struct Grain {
        BlockKind kind;
        uint64_t sector;  // data: where the grain (or its marker) starts
    };

    bool read_in_file(uint64_t at, uint8_t* buf, size_t n) { return vmdk::read_in_file(src_, at, buf, n); }

    // get_cluster_offset without allocation.
    Status lookup(uint64_t offset, Grain& g) {
        const uint64_t grain = offset / grain_bytes_;
        const uint64_t gd_index = grain / gtes_per_gt_;
        if (gd_index >= gd_entries_) return Status::image_invalid;  // qemu: VMDK_ERROR
        const uint64_t gd_at = gd_index * vmdk::kGdeBytes;
        const uint8_t* window = nullptr;
        Status st = gd_.get(src_, gd_offset_ + gd_at / kGdWindowBytes * kGdWindowBytes, window);
        if (st != kOk) return st;
        const uint32_t gt_sector = load_le32(window + gd_at % kGdWindowBytes);
        if (gt_sector == 0) {
            g = Grain{BlockKind::unallocated, 0};
            return kOk;
        }
        const uint8_t* gt = nullptr;
        st = gt_.get(src_, uint64_t(gt_sector) * kSectorSize, gt);
        if (st != kOk) return st;
        const uint32_t entry = load_le32(gt + (grain % gtes_per_gt_) * vmdk::kGteBytes);
        if (zeroed_grains_ && entry == kGteZeroed) {
            g = Grain{BlockKind::zero, 0};
        } else if (entry == 0) {
            g = Grain{BlockKind::unallocated, 0};
        } else {
            g = Grain{BlockKind::data, entry};
        }
        return kOk;
    }

    // vmdk_read_extent for a deflated grain: two grains' worth of bytes
    // from its sector, the marker's length (or the whole buffer without
    // markers), inflated into one grain. The last grain decoded is kept.
    Status read_compressed(uint64_t sector, uint64_t in_grain, uint8_t* out, uint64_t n) {
        if (sector != cached_sector_) {
            cached_sector_ = 0;
            const uint64_t buf_bytes = 2 * grain_bytes_;
            if (!read_in_file(sector * kSectorSize, packed_, buf_bytes)) return Status::read_failed;
            const uint8_t* data = packed_;
            uint64_t data_len = grain_bytes_;
            uint64_t room = buf_bytes;
            if (markers_) {
                data = packed_ + kGrainMarkerBytes;
                data_len = load_le32(packed_ + vmdk::kMarkerSize);
                // qemu bounds the length by the whole buffer and reads up
                // to 12 bytes past it (CVE-2026-2243); instar stops at its
                // end.
                room = buf_bytes - kGrainMarkerBytes;
            }
            if (data_len == 0 || data_len > room) return Status::image_invalid;
            Status st = decompressor_->decompress(data, size_t(data_len), grain_, size_t(grain_bytes_), made_);
            if (st != kOk) return st;
            cached_sector_ = sector;
        }
        if (in_grain + n > made_) return Status::image_invalid;
        __builtin_memcpy(out, grain_ + in_grain, n);
        return kOk;
    }

    ImageSource& src_;
    BlockReader* backing_;
    uint32_t cid_;
    bool parent_cid_valid_;
    uint64_t size_;
    uint64_t grain_bytes_;
    uint64_t gtes_per_gt_;
    uint64_t gd_offset_;
    uint64_t gd_entries_;
    bool compressed_;
    bool markers_;
    bool zeroed_grains_;
    qcow2::TableCache gd_;
    qcow2::TableCache gt_;
    GrainDecompressor* decompressor_ = nullptr;
    uint8_t* packed_ = nullptr;
    uint8_t* grain_ = nullptr;
    uint64_t cached_sector_ = 0;  // 0: none (no grain starts at sector 0)
    size_t made_ = 0;
};

}  // namespace

Status vmdk_open_reader(const ReaderOpenParams& p, BlockReader*& out) {
    // No internal snapshots in this format.
    if (p.snapshot != ReaderOpenParams::kActiveImage) return Status::invalid_option;
    out = nullptr;
    if (!qemu_can_open(p.src)) return Status::image_invalid;
    if (p.data_file) return Status::invalid_option;
    const size_t mark = p.arena.used();
    vmdk::OpenedSparse opened{};
    Status st = vmdk::open_sparse_file(p.src, p.arena, opened);
    p.arena.release_to(mark);
    if (st != kOk) return st;

    void* mem = p.arena.alloc(sizeof(VmdkReader), alignof(VmdkReader), false);
    if (!mem) return Status::out_of_memory;
    auto* reader = ::new (mem) VmdkReader(p.src, opened.header, opened.keys, p.backing);
    st = reader->init(p.arena);
    if (st != kOk) return st;
    out = reader;
    return kOk;
}

}  // namespace instar::formats
