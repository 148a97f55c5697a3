#include "formats/qcow2/qcow2_writer.h"

#include <new>

#include "formats/common/bits.h"
#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_header.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_render.h"

namespace instar::formats::qcow2 {
namespace {

constexpr uint64_t kInvalidOffset = ~uint64_t(0);

uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
uint32_t ctz32(uint32_t v) { return v ? uint32_t(__builtin_ctz(v)) : 32; }
uint32_t clz32(uint32_t v) { return v ? uint32_t(__builtin_clz(v)) : 32; }

// qemu's QCow2SubclusterType, for what calculate_l2_meta asks.
enum class Sub { normal, zero_alloc, unallocated_alloc, zero_plain, unallocated_plain, compressed, invalid };

// qcow2_get_subcluster_type.
Sub subcluster_type(uint64_t entry, uint64_t bitmap, uint32_t sc, bool extended) {
    if (entry & kOflagCompressed) return Sub::compressed;
    const bool has_offset = (entry & kL2OffsetMask) != 0;
    if (!extended) {
        if (entry & kOflagZero) return has_offset ? Sub::zero_alloc : Sub::zero_plain;
        return has_offset ? Sub::normal : Sub::unallocated_plain;
    }
    const uint64_t alloc = uint64_t(1) << sc;
    const uint64_t zero = alloc << kL2BitmapZeroShift;
    if (has_offset) {
        if ((bitmap >> kL2BitmapZeroShift) & bitmap) return Sub::invalid;
        if (bitmap & alloc) return Sub::normal;
        return (bitmap & zero) ? Sub::zero_alloc : Sub::unallocated_alloc;
    }
    if (bitmap & kL2BitmapAllocMask) return Sub::invalid;
    return (bitmap & zero) ? Sub::zero_plain : Sub::unallocated_plain;
}

// cluster_needs_new_alloc: anything but an allocated cluster whose
// refcount is one (OFLAG_COPIED).
bool needs_new_alloc(uint64_t entry) {
    if (entry & kOflagCompressed) return true;
    if (!(entry & kL2OffsetMask)) return true;
    return !(entry & kOflagCopied);
}

}  // namespace

// Host clusters compressed clusters may share: each 16 bytes of scratch,
// enough for about 64 GiB of compressed output in 64 KiB clusters.
constexpr size_t kMaxSharedClusters = 1u << 20;

Status Writer::open(const CreateParams& params, Arena& arena, ImageSink& sink, bool compress) {
    p_ = params;
    arena_ = &arena;
    sink_ = &sink;
    // -B (a backing file the output falls through to) is not built yet.
    if (p_.backing_file) return Status::invalid_option;
    Status st = plan_image(p_, arena, plan_, compress ? kMaxSharedClusters : 0);
    if (st != kOk) return st;
    if (!header_fits(p_)) return Status::backing_path_too_long;
    cs_ = plan_.alloc.cluster_size();
    l2_entries_ = uint64_t(1) << plan_.l2_bits;
    subcluster_bits_ = p_.extended_l2 ? p_.cluster_bits - 5 : p_.cluster_bits;

    if (compress) {
        // qemu refuses compressed writes into preallocated clusters.
        if (p_.prealloc != abi::Preallocation::off) return Status::invalid_option;
        st = make_cluster_compressor(p_.zstd ? ClusterCompression::zstd : ClusterCompression::zlib, arena, cs_,
                                     compressor_);
        if (st != kOk) return st;
        cluster_in_ = static_cast<uint8_t*>(arena.alloc(cs_, 4096));
        cluster_out_ = static_cast<uint8_t*>(arena.alloc(cs_, 4096, false));
        if (!cluster_in_ || !cluster_out_) return Status::scratch_exceeded;
    }
    if (p_.prealloc != abi::Preallocation::off) {
        // qemu leaves the subclusters of preallocated clusters unallocated
        // and marks them as data are written; not built yet.
        if (p_.extended_l2) return Status::unsupported_feature;
        if (plan_.has_prealloc) {
            const bool full = p_.prealloc == abi::Preallocation::full;
            if (!sink.preallocate(plan_.prealloc.offset, plan_.prealloc.len, full)) return Status::write_failed;
        }
        uint64_t written = 0;
        st = render_image(p_, plan_, arena, sink, written);
        metadata_bytes_ += written;
        preallocated_ = true;
        return st;
    }

    if (plan_.l1_size) {
        l1_ = arena.alloc_array<uint64_t>(plan_.l1_size);
        if (!l1_) return Status::scratch_exceeded;
    }
    l2_ = static_cast<uint8_t*>(arena.alloc(cs_, 4096));
    zeroes_ = static_cast<uint8_t*>(arena.alloc(cs_, 4096));
    if (!l2_ || !zeroes_) return Status::scratch_exceeded;
    plan_.l1 = l1_;
    plan_.streamed = true;
    // Refcount tables qemu-img create already replaced lie in the file
    // before any data.
    return write_new_stale_tables();
}

Status Writer::put(uint64_t offset, const void* data, uint64_t len) {
    if (!sink_->write(offset, data, len)) return Status::write_failed;
    return kOk;
}

// The old table's bytes as they were when qemu replaced it; what is
// allocated on its clusters later is written over them.
Status Writer::write_new_stale_tables() {
    const Allocator& a = plan_.alloc;
    for (; stale_written_ < a.stale_count(); ++stale_written_) {
        const StaleTable& t = a.stale(stale_written_);
        for (uint64_t i = 0; i < t.size; i += cs_ / kEntryBytes) {
            const uint64_t n = min_u64(t.size - i, cs_ / kEntryBytes);
            for (uint64_t k = 0; k < n; ++k) store_be64(zeroes_ + k * kEntryBytes, t.entries[i + k]);
            Status st = put(t.offset + i * kEntryBytes, zeroes_, n * kEntryBytes);
            __builtin_memset(zeroes_, 0, cs_);
            if (st != kOk) return st;
            metadata_bytes_ += n * kEntryBytes;
        }
    }
    return kOk;
}

uint64_t Writer::entry(uint64_t index) const { return load_be64(l2_ + index * plan_.l2_entry_bytes); }

uint64_t Writer::bitmap(uint64_t index) const {
    return p_.extended_l2 ? load_be64(l2_ + index * plan_.l2_entry_bytes + kL2EntryBytes) : 0;
}

void Writer::set_entry(uint64_t index, uint64_t e, uint64_t b) {
    store_be64(l2_ + index * plan_.l2_entry_bytes, e);
    if (p_.extended_l2) store_be64(l2_ + index * plan_.l2_entry_bytes + kL2EntryBytes, b);
}

Status Writer::flush_l2() {
    if (l2_table_ == kInvalidOffset) return kOk;
    Status st = put(l1_[l2_table_] & kL1OffsetMask, l2_, cs_);
    metadata_bytes_ += cs_;
    return st;
}

// get_cluster_table: the L2 table for `guest`, allocated (l2_allocate) on
// first use. Writes come in order, so a table once left is complete.
Status Writer::ensure_l2(uint64_t guest) {
    const uint64_t index = guest >> (p_.cluster_bits + plan_.l2_bits);
    if (index >= plan_.l1_size) return Status::internal;
    if (index == l2_table_) return kOk;
    Status st = flush_l2();
    if (st != kOk) return st;
    if (l1_[index]) return Status::internal;  // a write before an earlier one
    uint64_t offset = 0;
    Step s = plan_.alloc.alloc_clusters(cs_, offset);
    if (s != Step::ok) return step_status(s);
    if (offset == 0 || offset > kL1OffsetMask) return Status::internal;
    plan_.alloc.note_extent(offset, cs_);
    l1_[index] = offset | kOflagCopied;
    __builtin_memset(l2_, 0, cs_);
    l2_table_ = index;
    return write_new_stale_tables();
}

// The clusters a request from `start` looks at: to the end of its L2
// table and at most the block layer's largest request.
uint64_t Writer::clusters_for(uint64_t start, uint64_t bytes) const {
    uint64_t n = div_round_up((start & (cs_ - 1)) + bytes, cs_);
    n = min_u64(n, l2_entries_ - l2_index(start));
    return min_u64(n, kRequestMaxBytes >> p_.cluster_bits);
}

// calculate_l2_meta.
Status Writer::add_meta(uint64_t host_cluster, uint64_t guest, uint64_t bytes, bool keep_old) {
    const uint64_t cow_start_to = guest & (cs_ - 1);
    const uint64_t cow_end_from = cow_start_to + bytes;
    const uint64_t clusters = div_round_up(cow_end_from, cs_);
    const uint64_t first = l2_index(guest);
    const bool ext = p_.extended_l2;
    const uint64_t sub = uint64_t(1) << subcluster_bits_;

    bool skip_cow = keep_old;
    for (uint64_t i = 0; i < clusters; ++i) {
        const uint64_t e = entry(first + i);
        const uint64_t b = bitmap(first + i);
        if (skip_cow) {
            const uint64_t from = max_u64(cow_start_to, i * cs_) - i * cs_;
            const uint64_t to = min_u64(cow_end_from, (i + 1) * cs_) - i * cs_;
            for (uint64_t sc = from >> subcluster_bits_; sc <= (to - 1) >> subcluster_bits_; ++sc) {
                const Sub t = subcluster_type(e, b, uint32_t(sc), ext);
                if (t == Sub::invalid) return Status::image_invalid;
                if (t != Sub::normal) skip_cow = false;
            }
        } else if (subcluster_type(e, b, 0, ext) == Sub::invalid) {
            return Status::image_invalid;
        }
    }
    if (skip_cow) return kOk;

    const uint32_t sc_first = uint32_t(cow_start_to >> subcluster_bits_);
    const uint64_t first_bitmap = bitmap(first);
    const Sub t_first = subcluster_type(entry(first), first_bitmap, sc_first, ext);
    uint64_t cow_start_from = 0;
    switch (t_first) {
    case Sub::compressed:
        if (keep_old) return Status::internal;
        cow_start_from = 0;
        break;
    case Sub::normal:
    case Sub::zero_alloc:
    case Sub::unallocated_alloc:
        if (keep_old) {
            cow_start_from = t_first == Sub::normal ? cow_start_to : uint64_t(sc_first) << subcluster_bits_;
        } else if (ext) {
            const uint32_t alloc = uint32_t(first_bitmap & kL2BitmapAllocMask);
            const uint32_t lead = ctz32(alloc);
            cow_start_from = uint64_t(sc_first < lead ? sc_first : lead) << subcluster_bits_;
        }
        break;
    case Sub::zero_plain:
    case Sub::unallocated_plain:
        if (keep_old) return Status::internal;
        cow_start_from = uint64_t(sc_first) << subcluster_bits_;
        break;
    case Sub::invalid: return Status::image_invalid;
    }

    const uint64_t last = first + clusters - 1;
    const uint64_t last_bitmap = bitmap(last);
    const uint32_t sc_last = uint32_t(((cow_start_to + bytes - 1) & (cs_ - 1)) >> subcluster_bits_);
    const Sub t_last = subcluster_type(entry(last), last_bitmap, sc_last, ext);
    uint64_t cow_end_to = cow_end_from;
    switch (t_last) {
    case Sub::compressed:
        if (keep_old) return Status::internal;
        cow_end_to = round_up(cow_end_from, cs_);
        break;
    case Sub::normal:
    case Sub::zero_alloc:
    case Sub::unallocated_alloc:
        if (keep_old) {
            cow_end_to = t_last == Sub::normal ? cow_end_from : round_up(cow_end_from, sub);
        } else {
            cow_end_to = round_up(cow_end_from, cs_);
            if (ext) {
                const uint32_t alloc = uint32_t(last_bitmap & kL2BitmapAllocMask);
                const uint32_t trail = clz32(alloc);
                const uint32_t room = kSubclustersPerCluster - sc_last - 1;
                cow_end_to -= uint64_t(room < trail ? room : trail) << subcluster_bits_;
            }
        }
        break;
    case Sub::zero_plain:
    case Sub::unallocated_plain:
        if (keep_old) return Status::internal;
        cow_end_to = round_up(cow_end_from, sub);
        break;
    case Sub::invalid: return Status::image_invalid;
    }

    if (meta_count_ == kMaxMetas) return Status::scratch_exceeded;
    metas_[meta_count_++] =
        Meta{guest - cow_start_to, host_cluster, clusters, cow_start_from, cow_start_to, cow_end_from, cow_end_to};
    // qemu links the entries after the data is written, with every L2
    // table of the request still in its cache; here only the current
    // table is held, and the request may go on into the next one. Nothing
    // later in the request looks at these entries (it maps what follows
    // them), so linking them now ends in the same table.
    link(metas_[meta_count_ - 1]);
    return kOk;
}

// handle_copied: clusters already allocated to this image (by an earlier
// write into the same cluster) are written in place.
Status Writer::handle_copied(uint64_t start, uint64_t& cluster_offset, uint64_t& bytes, bool& progressed) {
    progressed = false;
    const uint64_t clusters = clusters_for(start, bytes);
    Status st = ensure_l2(start);
    if (st != kOk) return st;
    const uint64_t index = l2_index(start);
    const uint64_t e = entry(index);
    if (needs_new_alloc(e)) return kOk;
    const uint64_t host = e & kL2OffsetMask;
    if (cluster_offset != kInvalidOffset && host != cluster_offset) {
        bytes = 0;
        return kOk;
    }
    uint64_t keep = 0;
    for (uint64_t expected = host; keep < clusters; ++keep, expected += cs_) {
        const uint64_t k = entry(index + keep);
        if (needs_new_alloc(k) || (k & kL2OffsetMask) != expected) break;
    }
    const uint64_t in_cluster = start & (cs_ - 1);
    bytes = min_u64(bytes, keep * cs_ - in_cluster);
    st = add_meta(host, start, bytes, true);
    if (st != kOk) return st;
    cluster_offset = host + in_cluster;
    progressed = true;
    return kOk;
}

// handle_alloc and do_alloc_cluster_offset: new clusters, contiguous with
// what the request already maps when it has mapped something.
Status Writer::handle_alloc(uint64_t start, uint64_t& cluster_offset, uint64_t& bytes, bool& allocated) {
    allocated = false;
    uint64_t clusters = clusters_for(start, bytes);
    Status st = ensure_l2(start);
    if (st != kOk) return st;
    const uint64_t index = l2_index(start);
    uint64_t fresh = 0;
    while (fresh < clusters && needs_new_alloc(entry(index + fresh))) ++fresh;
    if (fresh == 0) return Status::internal;
    clusters = fresh;

    uint64_t alloc_offset = 0;
    if (cluster_offset == kInvalidOffset) {
        Step s = plan_.alloc.alloc_clusters(clusters * cs_, alloc_offset);
        if (s != Step::ok) return step_status(s);
    } else {
        alloc_offset = cluster_offset & ~(cs_ - 1);
        uint64_t got = 0;
        Step s = plan_.alloc.alloc_clusters_at(alloc_offset, clusters, got);
        if (s != Step::ok) return step_status(s);
        clusters = got;
    }
    st = write_new_stale_tables();
    if (st != kOk) return st;
    if (clusters == 0) {
        bytes = 0;
        return kOk;
    }
    if (alloc_offset == 0 || alloc_offset + clusters * cs_ - 1 > kL2OffsetMask) return Status::internal;
    const uint64_t in_cluster = start & (cs_ - 1);
    const uint64_t nb_bytes = min_u64(bytes + in_cluster, clusters * cs_);
    bytes = min_u64(bytes, nb_bytes - in_cluster);
    st = add_meta(alloc_offset, start, bytes, false);
    if (st != kOk) return st;
    cluster_offset = alloc_offset + in_cluster;
    allocated = true;
    return kOk;
}

// qcow2_alloc_host_offset: as much of [offset, offset + bytes) as lies
// contiguously in the file, from `host` on.
Status Writer::map(uint64_t offset, uint64_t& bytes, uint64_t& host) {
    uint64_t start = offset;
    uint64_t remaining = bytes;
    uint64_t cluster_offset = kInvalidOffset;
    uint64_t cur = 0;
    host = kInvalidOffset;
    meta_count_ = 0;
    for (;;) {
        if (host == kInvalidOffset && cluster_offset != kInvalidOffset) host = cluster_offset;
        start += cur;
        remaining -= cur;
        if (cluster_offset != kInvalidOffset) cluster_offset += cur;
        if (remaining == 0) break;
        cur = remaining;
        bool progressed = false;
        Status st = handle_copied(start, cluster_offset, cur, progressed);
        if (st != kOk) return st;
        if (progressed) continue;
        if (cur == 0) break;
        st = handle_alloc(start, cluster_offset, cur, progressed);
        if (st != kOk) return st;
        if (!progressed) break;
    }
    bytes -= remaining;
    return bytes && host != kInvalidOffset ? kOk : Status::internal;
}

// handle_alloc_space: qemu zeroes a new allocation's copy-on-write areas
// (nothing lies below them in an image without a backing file), which
// also makes the file reach their end. Only a replaced refcount table
// can have left bytes there.
Status Writer::zero_cow(const Meta& m) {
    if (m.cow_start_to == m.cow_start_from && m.cow_end_to == m.cow_end_from) return kOk;
    const uint64_t from = m.host + m.cow_start_from;
    const uint64_t to = m.host + m.cow_end_to;
    plan_.alloc.note_extent(from, to - from);
    const Allocator& a = plan_.alloc;
    for (size_t i = 0; i < a.stale_count(); ++i) {
        const StaleTable& t = a.stale(i);
        if (from < t.offset + t.size * kEntryBytes && t.offset < to) {
            const ByteRange areas[2] = {{from, m.cow_start_to - m.cow_start_from},
                                        {m.host + m.cow_end_from, m.cow_end_to - m.cow_end_from}};
            for (const ByteRange& r : areas) {
                for (uint64_t done = 0; done < r.len;) {
                    const uint64_t n = min_u64(r.len - done, cs_);
                    Status st = put(r.offset + done, zeroes_, n);
                    if (st != kOk) return st;
                    done += n;
                }
            }
            return kOk;
        }
    }
    return kOk;
}

// qcow2_alloc_cluster_link_l2: the entries, and for extended L2 the
// subclusters now written.
void Writer::link(const Meta& m) {
    const uint64_t first = l2_index(m.guest);
    for (uint64_t i = 0; i < m.clusters; ++i) {
        uint64_t b = bitmap(first + i);
        if (p_.extended_l2) {
            const uint64_t from = max_u64(m.cow_start_from, i * cs_) - i * cs_;
            const uint64_t to = min_u64(m.cow_end_to, (i + 1) * cs_) - i * cs_;
            const uint32_t first_sc = uint32_t(from >> subcluster_bits_);
            const uint32_t last_sc = uint32_t((to - 1) >> subcluster_bits_);
            const uint64_t range = ((uint64_t(1) << (last_sc + 1)) - 1) & ~((uint64_t(1) << first_sc) - 1);
            b |= range;
            b &= ~(range << kL2BitmapZeroShift);
        }
        set_entry(first + i, (m.host + i * cs_) | kOflagCopied, b);
    }
}

Status Writer::write_in_place(uint64_t offset, const uint8_t* data, uint64_t len) {
    while (len) {
        const uint64_t cluster = offset >> p_.cluster_bits;
        while (run_cursor_ < plan_.run_count &&
               plan_.runs[run_cursor_].guest_cluster + plan_.runs[run_cursor_].count <= cluster)
            ++run_cursor_;
        if (run_cursor_ == plan_.run_count || plan_.runs[run_cursor_].guest_cluster > cluster)
            return Status::internal;
        const DataRun& r = plan_.runs[run_cursor_];
        const uint64_t host = ((r.host_cluster + (cluster - r.guest_cluster)) << p_.cluster_bits) + (offset & (cs_ - 1));
        const uint64_t n = min_u64(len, ((r.guest_cluster + r.count) << p_.cluster_bits) - offset);
        Status st = put(host, data, n);
        if (st != kOk) return st;
        offset += n;
        data += n;
        len -= n;
    }
    return kOk;
}

// qcow2_co_pwritev_part.
Status Writer::write(uint64_t offset, const uint8_t* data, uint64_t len) {
    if (offset > p_.size || len > p_.size - offset || offset < floor_) return Status::internal;
    if (len) floor_ = (offset + len - 1) & ~(cs_ - 1);
    if (preallocated_) return write_in_place(offset, data, len);
    while (len) {
        uint64_t cur = len;
        uint64_t host = 0;
        Status st = map(offset, cur, host);
        for (size_t i = 0; st == kOk && i < meta_count_; ++i) st = zero_cow(metas_[i]);
        if (st == kOk) st = put(host, data, cur);
        if (st != kOk) return st;
        plan_.alloc.note_extent(host, cur);
        offset += cur;
        data += cur;
        len -= cur;
    }
    return kOk;
}

Status Writer::write_compressed(uint64_t offset, const uint8_t* data, uint64_t len) {
    if (!compressor_ || (offset & (cs_ - 1)) || len == 0 || len > cs_ || offset > p_.size ||
        len > p_.size - offset || (len < cs_ && offset + len != p_.size) || offset < floor_)
        return Status::internal;
    __builtin_memcpy(cluster_in_, data, len);
    __builtin_memset(cluster_in_ + len, 0, cs_ - len);
    Compressed c{};
    Status st = compressor_->compress(cluster_in_, cs_, cluster_out_, cs_ - 1, c);
    if (st != kOk) return st;
    if (!c.fits) return write(offset, data, len);  // qemu's -ENOMEM: a plain cluster

    floor_ = offset + cs_;
    // qcow2_alloc_compressed_cluster_offset.
    st = ensure_l2(offset);
    if (st != kOk) return st;
    const uint64_t index = l2_index(offset);
    if (entry(index) & kL2OffsetMask) return Status::internal;  // qemu: -EIO, compression never overwrites
    uint64_t host = 0;
    Step s = plan_.alloc.alloc_bytes(c.bytes, host);
    if (s != Step::ok) return step_status(s);
    st = write_new_stale_tables();
    if (st != kOk) return st;
    const uint32_t csize_shift = kCompressedFieldsBits - (p_.cluster_bits - kCompressedSizeBitsFromClusterBits);
    const uint64_t sectors = (host + c.bytes - 1) / kCompressedSectorSize - host / kCompressedSectorSize;
    if (host >> csize_shift) return Status::size_out_of_range;
    set_entry(index, host | kOflagCompressed | (sectors << csize_shift), 0);
    st = put(host, cluster_out_, c.bytes);
    if (st != kOk) return st;
    plan_.alloc.note_extent(host, c.bytes);
    wrote_compressed_ = true;
    return kOk;
}

Status Writer::finish() {
    // qemu-img convert -c ends with an empty compressed write, which cuts
    // the file to its length in whole sectors, before the metadata is
    // flushed (qcow2_co_pwritev_compressed_part).
    if (wrote_compressed_) plan_.alloc.note_extent(0, round_up(plan_.alloc.file_end(), kSectorSize));
    if (!preallocated_) {
        Status st = flush_l2();
        if (st != kOk) return st;
        uint64_t written = 0;
        st = render_image(p_, plan_, *arena_, *sink_, written);
        metadata_bytes_ += written;
        if (st != kOk) return st;
    }
    return sink_->set_size(file_size()) ? kOk : Status::write_failed;
}

Status open_writer(const WriterOpenParams& p, ImageWriter*& out) {
    CreateParams params;
    Status st = parse_create_request(p.request, p.virtual_size, params);
    if (st != kOk) return st;
    void* at = p.arena.alloc(sizeof(Writer), alignof(Writer));
    if (!at) return Status::scratch_exceeded;
    auto* writer = ::new (at) Writer();
    st = writer->open(params, p.arena, p.sink, p.compress);
    if (st != kOk) return st;
    out = writer;
    return kOk;
}

}  // namespace instar::formats::qcow2
