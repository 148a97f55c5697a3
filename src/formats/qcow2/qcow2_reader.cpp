#include "formats/qcow2/qcow2_reader.h"

#include <new>

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_compressed.h"
#include "formats/qcow2/qcow2_l2_entry.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_open_checks.h"
#include "formats/qcow2/qcow2_snapshot_table.h"
#include "formats/qcow2/qcow2_table_cache.h"

namespace instar::formats {
namespace {

using namespace qcow2;

// Memory per open image, whatever its size: one 64 KiB window of the L1
// table (8192 entries) and a few L2 slices of at most 64 KiB, enough for
// a sequential walk and a little back and forth (qemu keeps 1 MiB of L2
// by default).
constexpr size_t kL1WindowBytes = 64 * 1024;
constexpr size_t kL2SliceBytes = 64 * 1024;
constexpr uint32_t kL2Slots = 8;

// The run block_status builds: [start, pos) so far, all of one kind, all
// with a host offset (contiguous in the file) or all without.
struct Run {
    uint64_t start;
    uint64_t pos;
    bool started = false;
    BlockStatus st{};
    uint64_t next_host = 0;  // the host offset that would continue the run

    // Adds [pos, to); false (and nothing added) when it would not continue
    // the run. A compressed cluster is a run of its own, as qemu reads
    // each one by itself.
    bool add(BlockKind kind, uint64_t to, bool has_host = false, uint64_t host = 0) {
        if (!started) {
            started = true;
            st.kind = kind;
            st.has_host_offset = has_host;
            st.host_offset = host;
        } else if (kind != st.kind || st.compressed || has_host != st.has_host_offset ||
                   (has_host && host != next_host)) {
            return false;
        }
        next_host = host + (to - pos);
        pos = to;
        return true;
    }

    bool add_compressed(uint64_t to, const CompressedExtent& c) {
        if (started) return false;
        add(BlockKind::data, to);
        st.compressed = true;
        st.compressed_offset = c.offset;
        st.compressed_bytes = c.bytes;
        return true;
    }
};

class Qcow2Reader final : public BlockReader {
public:
    Qcow2Reader(const ReaderOpenParams& p, const Header& h)
        : src_(p.src),
          data_(p.data_file ? *p.data_file : p.src),
          backing_(p.backing),
          size_(h.size & ~(kSectorSize - 1)),
          version_(h.version),
          cluster_bits_(h.cluster_bits),
          rules_{(h.incompatible_features & kIncompatExtendedL2) != 0, p.data_file != nullptr},
          entry_bytes_(rules_.extended_l2 ? kL2ExtendedEntryBytes : kL2EntryBytes),
          l2_entries_((uint64_t(1) << h.cluster_bits) / entry_bytes_),
          l1_shift_(h.cluster_bits + uint32_t(__builtin_ctzll(l2_entries_))),
          sc_bits_(rules_.extended_l2 ? h.cluster_bits - uint32_t(__builtin_ctz(kSubclustersPerCluster))
                                      : h.cluster_bits),
          l1_offset_(h.l1_table_offset),
          l1_size_(h.l1_size),
          compression_(h.compression_type == kCompressionZstd ? ClusterCompression::zstd : ClusterCompression::zlib),
          decode_scratch_(p.decode_scratch) {}

    Status init(Arena& arena) {
        // The L1 window need not be larger than the table.
        const uint64_t l1_bytes = uint64_t(l1_size_) * kEntryBytes;
        size_t window = kL1WindowBytes;
        while (window > kSectorSize && window / 2 >= l1_bytes) window /= 2;
        Status st = l1_.init(arena, 1, window);
        if (st != kOk) return st;
        const uint64_t cluster = uint64_t(1) << cluster_bits_;
        st = l2_.init(arena, kL2Slots, size_t(cluster < kL2SliceBytes ? cluster : kL2SliceBytes));
        if (st != kOk) return st;
        // Any cluster may be compressed, and the memory for reading one is
        // taken now (unless the caller shares a scratch), so that reads never
        // allocate (the arena's later users may give back what they took).
        return compressed_.init(arena, compression_, cluster_bits_, decode_scratch_);
    }

    uint64_t virtual_size() const override { return size_; }
    uint64_t cluster_size() const override { return uint64_t(1) << cluster_bits_; }

    Status block_status(uint64_t offset, uint64_t max_bytes, BlockStatus& out) override {
        if (offset >= size_ || max_bytes == 0) return Status::internal;
        Run run{offset, offset};
        const Status st = walk(offset + (max_bytes < size_ - offset ? max_bytes : size_ - offset), run);
        if (st != kOk) return st;
        out = run.st;
        out.bytes = run.pos - run.start;
        return kOk;
    }

    Status read(uint64_t offset, void* buf, size_t len) override {
        if (offset > size_ || len > size_ - offset) return Status::internal;
        auto* out = static_cast<uint8_t*>(buf);
        while (len > 0) {
            BlockStatus s;
            Status st = block_status(offset, len, s);
            if (st != kOk) return st;
            const size_t n = size_t(s.bytes);
            switch (s.kind) {
            case BlockKind::data:
                if (s.compressed) {
                    st = read_compressed(offset, s, out, n);
                    if (st != kOk) return st;
                    break;
                }
                // Past the end of the file, qemu reads zeroes.
                if (!qemu_read(data_, s.host_offset, out, n)) return Status::read_failed;
                break;
            case BlockKind::zero:
                __builtin_memset(out, 0, n);
                break;
            case BlockKind::unallocated:
                st = read_backing(offset, out, n);
                if (st != kOk) return st;
                break;
            }
            out += n;
            offset += n;
            len -= n;
        }
        return kOk;
    }

private:
    uint64_t cluster_mask() const { return (uint64_t(1) << cluster_bits_) - 1; }

    // Extends `run` from run.pos towards `end`, one L1 entry, then one L2
    // entry (or subcluster range) at a time; an unallocated L1 entry is one
    // step, so empty space costs nothing per cluster. A damaged entry fails
    // the call when it is the first thing asked about and ends the run
    // before it otherwise, so each answer depends only on the range it
    // covers.
    Status walk(uint64_t end, Run& run) {
        while (run.pos < end) {
            const uint64_t l1_index = run.pos >> l1_shift_;
            const uint64_t l1_end = (l1_index + 1) << l1_shift_;
            const uint64_t region_end = end < l1_end ? end : l1_end;
            uint64_t l1_entry = 0;
            if (l1_index < l1_size_) {
                const Status st = read_l1(l1_index, l1_entry);
                if (st != kOk) return run.started ? kOk : st;
            }
            const uint64_t l2_offset = l1_entry & kL1OffsetMask;
            if (l2_offset == 0) {
                if (!run.add(BlockKind::unallocated, region_end)) return kOk;
                continue;
            }
            // qcow2_get_host_offset: "L2 table offset %#x unaligned" (EIO).
            // An L2 table past the end of the file reads as zeroes.
            if (l2_offset & cluster_mask()) return run.started ? kOk : Status::image_invalid;
            bool more = true;
            const Status st = walk_l2(l2_offset, region_end, run, more);
            if (st != kOk) return run.started ? kOk : st;
            if (!more) return kOk;
        }
        return kOk;
    }

    // The part of one L2 table in [run.pos, region_end); `more` false when
    // the run ended in it.
    Status walk_l2(uint64_t l2_offset, uint64_t region_end, Run& run, bool& more) {
        const uint64_t per_slice = l2_.slice_bytes() / entry_bytes_;
        while (run.pos < region_end) {
            const uint64_t index = (run.pos >> cluster_bits_) & (l2_entries_ - 1);
            const uint8_t* slice = nullptr;
            Status st = l2_.get(src_, l2_offset + index / per_slice * l2_.slice_bytes(), slice);
            if (st != kOk) return st;
            for (uint64_t i = index % per_slice; i < per_slice && run.pos < region_end; ++i) {
                const uint8_t* e = slice + i * entry_bytes_;
                const uint64_t entry = load_be64(e);
                const uint64_t bitmap = rules_.extended_l2 ? load_be64(e + kL2EntryBytes) : 0;
                const uint64_t cluster_start = run.pos & ~cluster_mask();
                const uint64_t cluster_end = cluster_start + cluster_mask() + 1;
                // Subcluster by subcluster-type range, until the cluster ends.
                while (run.pos < region_end && run.pos < cluster_end) {
                    const uint32_t sc = uint32_t((run.pos - cluster_start) >> sc_bits_);
                    const SubclusterRun r = subcluster_run(rules_, entry, bitmap, rules_.extended_l2 ? sc : 0);
                    st = check(r.type, entry, cluster_start);
                    if (st != kOk) return st;
                    uint64_t to = cluster_start + (uint64_t(sc + r.count) << sc_bits_);
                    if (to > region_end) to = region_end;
                    if (!add(run, r.type, entry, to)) {
                        more = false;
                        return kOk;
                    }
                }
            }
        }
        return kOk;
    }

    // What qcow2_get_host_offset refuses (EIO, and the image is marked
    // corrupt): the whole entry, whichever subcluster is asked about.
    Status check(Subcluster type, uint64_t entry, uint64_t cluster_start) const {
        switch (type) {
        case Subcluster::invalid:
            return Status::image_invalid;  // "Invalid cluster entry found"
        case Subcluster::zero_plain:
        case Subcluster::zero_alloc:
            // "Zero cluster entry found in pre-v3 image"
            if (version_ < 3) return Status::image_invalid;
            break;
        case Subcluster::compressed:
            // "Compressed cluster entry found in image with external data file"
            if (rules_.data_file) return Status::image_invalid;
            break;
        default:
            break;
        }
        if (type == Subcluster::normal || type == Subcluster::zero_alloc || type == Subcluster::unallocated_alloc) {
            const uint64_t host = entry & kL2OffsetMask;
            // "Cluster allocation offset %#x unaligned"
            if (host & cluster_mask()) return Status::image_invalid;
            // "External data file host cluster offset %#x does not match
            // guest cluster offset": a data file is the disk itself.
            if (rules_.data_file && host != cluster_start) return Status::image_invalid;
        }
        return kOk;
    }

    // Adds [run.pos, to) of subcluster type `type` to the run.
    bool add(Run& run, Subcluster type, uint64_t entry, uint64_t to) const {
        // Where run.pos lies in the cluster the entry reserves, if any.
        const uint64_t host = (entry & kL2OffsetMask) + (run.pos & cluster_mask());
        switch (type) {
        case Subcluster::normal:
            return run.add(BlockKind::data, to, true, host);
        case Subcluster::compressed:
            return run.add_compressed(to, compressed_extent(entry, cluster_bits_));
        case Subcluster::zero_alloc:
            return run.add(BlockKind::zero, to, true, host);
        case Subcluster::zero_plain:
            return run.add(BlockKind::zero, to);
        case Subcluster::unallocated_alloc:
            return run.add(BlockKind::unallocated, to, true, host);
        default:  // unallocated_plain; invalid was refused
            return run.add(BlockKind::unallocated, to);
        }
    }

    Status read_l1(uint64_t index, uint64_t& entry) {
        const uint64_t at = index * kEntryBytes;
        const uint64_t window = l1_.slice_bytes();
        const uint8_t* slice = nullptr;
        const Status st = l1_.get(src_, l1_offset_ + at / window * window, slice);
        if (st != kOk) return st;
        entry = load_be64(slice + at % window);
        return kOk;
    }

    // [offset, offset + len) inside the compressed cluster `s` describes,
    // from the image file (never a data file, which qemu refuses to have
    // compressed clusters with).
    Status read_compressed(uint64_t offset, const BlockStatus& s, uint8_t* out, size_t len) {
        const uint8_t* cluster = nullptr;
        const Status st = compressed_.get(src_, CompressedExtent{s.compressed_offset, s.compressed_bytes}, cluster);
        if (st != kOk) return st;
        __builtin_memcpy(out, cluster + (offset & cluster_mask()), len);
        return kOk;
    }

    // Where this layer has nothing: the backing file's bytes up to its end,
    // zeroes beyond (qemu's block layer pads a read past a backing file's
    // end with zeroes).
    Status read_backing(uint64_t offset, uint8_t* out, size_t len) {
        size_t inside = 0;
        if (backing_) {
            const uint64_t bsize = backing_->virtual_size();
            inside = offset >= bsize ? 0 : (len < bsize - offset ? len : size_t(bsize - offset));
            if (inside > 0) {
                const Status st = backing_->read(offset, out, inside);
                if (st != kOk) return st;
            }
        }
        __builtin_memset(out + inside, 0, len - inside);
        return kOk;
    }

    ImageSource& src_;
    ImageSource& data_;  // where data clusters are: the image, or its data file
    BlockReader* backing_;
    uint64_t size_;
    uint32_t version_;
    uint32_t cluster_bits_;
    EntryRules rules_;
    uint64_t entry_bytes_;
    uint64_t l2_entries_;  // per table (one cluster)
    uint32_t l1_shift_;    // bytes of disk one L1 entry maps, as log2
    uint32_t sc_bits_;     // subcluster size as log2 (the cluster's without extended L2)
    uint64_t l1_offset_;
    uint32_t l1_size_;
    ClusterCompression compression_;
    DecodeScratch* decode_scratch_;  // shared by the caller, or nullptr
    TableCache l1_;
    TableCache l2_;
    CompressedClusters compressed_;
};

}  // namespace

namespace {

// qcow2_snapshot_load_tmp: the L1 table of snapshot `index` in place of the
// active one, checked as qcow2_validate_table checks it ("Snapshot L1
// table too large", "... offset invalid").
Status use_snapshot_l1(ImageSource& src, Arena& arena, uint32_t index, Header& h) {
    if (index >= h.nb_snapshots) return Status::invalid_option;
    const size_t mark = arena.used();
    auto* window = static_cast<uint8_t*>(arena.alloc(WindowReader::kWindowBytes, 4096, false));
    if (!window) return Status::out_of_memory;
    WindowReader r(src, window);
    SnapshotCursor cursor(h, r);
    SnapshotEntry e{};
    for (uint32_t i = 0; i <= index; ++i) {
        bool more = false;
        const Status st = cursor.next(e, more);
        if (st != kOk) return st;
        if (!more) return Status::internal;
    }
    const uint64_t l1_offset = load_be64(e.fixed + kSnapL1TableOffset);
    const uint32_t l1_size = load_be32(e.fixed + kSnapL1Size);
    arena.release_to(mark);
    if (l1_size > kMaxL1Bytes / kEntryBytes) return Status::image_invalid;
    if (kInt64Max - uint64_t(l1_size) * kEntryBytes < l1_offset || l1_offset % h.cluster_size)
        return Status::image_invalid;
    h.l1_table_offset = l1_offset;
    h.l1_size = l1_size;
    return kOk;
}

}  // namespace

Status qcow2_open_reader(const ReaderOpenParams& p, BlockReader*& out) {
    out = nullptr;
    if (!qemu_can_open(p.src)) return Status::image_invalid;
    Header h;
    Status st = check_open(p.src, p.arena, h);
    if (st != kOk) return st;
    // qcow2_do_open, for an image opened for I/O (`info` opens without).
    if (h.incompatible_features & kIncompatDataFile) {
        // qemu opens the file the image names; the caller hands it over.
        if (!p.data_file) return Status::unsupported_feature;
    } else {
        // "'data-file' can only be set for images with an external data file"
        if (p.data_file) return Status::invalid_option;
        // "data-file-raw requires a data file"
        if (h.autoclear_features & kAutoclearDataFileRaw) return Status::image_invalid;
    }
    // Decryption needs a secret, which instar does not take.
    if (h.crypt_method != kCryptNone) return Status::unsupported_feature;
    // bdrv_getlength: a disk of 2^63 bytes or more is "File too large".
    if ((h.size & ~(kSectorSize - 1)) > kInt64Max) return Status::image_invalid;
    if (p.snapshot != ReaderOpenParams::kActiveImage) {
        st = use_snapshot_l1(p.src, p.arena, p.snapshot, h);
        if (st != kOk) return st;
    }

    void* mem = p.arena.alloc(sizeof(Qcow2Reader), alignof(Qcow2Reader), false);
    if (!mem) return Status::out_of_memory;
    auto* reader = ::new (mem) Qcow2Reader(p, h);
    st = reader->init(p.arena);
    if (st != kOk) return st;
    out = reader;
    return kOk;
}

}  // namespace instar::formats
