#include "formats/qcow2/qcow2_allocator.h"

#include "formats/common/bits.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

}  // namespace

Status step_status(Step s) {
    switch (s) {
    case Step::ok: return kOk;
    case Step::too_big: return Status::size_out_of_range;
    case Step::no_scratch: return Status::scratch_exceeded;
    case Step::again:
    case Step::broken: break;
    }
    return Status::internal;
}

static Step from_status(Status s) {
    if (s == kOk) return Step::ok;
    if (s == Status::scratch_exceeded) return Step::no_scratch;
    return Step::broken;
}

uint64_t refcount_blocks_for(uint64_t clusters, uint32_t cluster_bits, uint32_t refcount_order, bool generous) {
    // The refcount structures count themselves, so iterate to the fixed
    // point exactly as qemu does; `generous` adds qemu's 50% table slack.
    const uint64_t blocks_per_table_cluster = (uint64_t(1) << cluster_bits) / kEntryBytes;
    const uint64_t refcounts_per_block = (uint64_t(1) << (cluster_bits + 3)) >> refcount_order;
    uint64_t table = 0, blocks = 0, last = 0, n = 0;
    do {
        last = n;
        blocks = div_round_up(clusters + table + blocks, refcounts_per_block);
        table = div_round_up(blocks, blocks_per_table_cluster);
        n = clusters + blocks + table;
        if (n == last && generous) {
            clusters += div_round_up(table, 2);
            n = 0;
            generous = false;
        }
    } while (n != last);
    return blocks;
}

Status Allocator::init(Arena& arena, uint32_t cluster_bits, uint32_t refcount_order, size_t max_ranges,
                       size_t max_shared) {
    arena_ = &arena;
    shared_count_ = 0;
    shared_capacity_ = max_shared;
    free_byte_offset_ = 0;
    if (max_shared && !(shared_ = arena.alloc_array<Shared>(max_shared))) return Status::scratch_exceeded;
    cluster_bits_ = cluster_bits;
    refcount_order_ = refcount_order;
    refblock_bits_ = cluster_bits + 3 - refcount_order;
    if (!used_.init(arena, max_ranges)) return Status::scratch_exceeded;
    table_size_ = cluster_size() / kEntryBytes;
    table_ = arena.alloc_array<uint64_t>(table_size_);
    if (!table_) return Status::scratch_exceeded;
    table_offset_ = cluster_size();
    table_[0] = 2 * cluster_size();
    max_table_index_ = 0;
    free_index_ = 0;
    stale_count_ = 0;
    file_end_ = kInitialClusters * cluster_size();
    return kOk;
}

void Allocator::update_max_table_index() {
    uint64_t i = table_size_ - 1;
    while (i > 0 && table_[i] == 0) --i;
    max_table_index_ = i;
}

Step Allocator::alloc_clusters_noref(uint64_t bytes, uint64_t& offset) {
    const uint64_t count = div_round_up(bytes, cluster_size());
    const uint64_t start = used_.find_free_run(free_index_, count);
    free_index_ = start + count;
    if (free_index_ - 1 > (kMaxClusterOffset >> cluster_bits_)) return Step::too_big;
    offset = start << cluster_bits_;
    return Step::ok;
}

Step Allocator::update_refcount(uint64_t offset, uint64_t length, bool decrease) {
    if (length == 0) return Step::ok;
    const uint64_t first = offset >> cluster_bits_;
    const uint64_t last = (offset + length - 1) >> cluster_bits_;
    uint64_t c = first;
    Step result = Step::ok;
    while (c <= last) {
        // qemu loads (or creates) the refcount block each time the loop
        // enters the range of a new one.
        result = ensure_refblock(c);
        // After new metadata, qemu retries from the start of this range.
        if (result == Step::again && first < free_index_) free_index_ = first;
        if (result != Step::ok) break;
        const uint64_t block_end = ((c >> refblock_bits_) + 1) << refblock_bits_;
        const uint64_t seg_end = min_u64(last + 1, block_end);
        if (decrease) {
            result = count_down(c, seg_end);
            if (c < free_index_) free_index_ = c;
        } else {
            result = count_up(c, seg_end);
        }
        if (result != Step::ok) break;
        c = seg_end;
    }
    if (result != Step::ok && c > first) {
        // qemu rolls back the clusters it already counted before handing
        // the error (usually -EAGAIN) to its caller.
        // [first, c): from the cluster holding `offset`, which a compressed
        // cluster's bytes need not start.
        Step undo = update_refcount(first << cluster_bits_, (c - first) << cluster_bits_, !decrease);
        if (undo != Step::ok) return undo == Step::no_scratch ? undo : Step::broken;
    }
    return result;
}

size_t Allocator::shared_lower_bound(uint64_t cluster) const {
    size_t lo = 0, hi = shared_count_;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (shared_[mid].cluster < cluster) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

uint64_t Allocator::refcount(uint64_t cluster) const {
    if (!used_.contains(cluster)) return 0;
    const size_t i = shared_lower_bound(cluster);
    return i < shared_count_ && shared_[i].cluster == cluster ? 1 + shared_[i].extra : 1;
}

// One more reference to each cluster in [begin, end): free ones join the
// set, used ones (only ever the one or two clusters a compressed cluster
// touches) count once more.
Step Allocator::count_up(uint64_t begin, uint64_t end) {
    if (used_.free_run_length(begin, end - begin) == end - begin) return from_status(used_.insert(begin, end));
    for (uint64_t c = begin; c < end; ++c) {
        if (!used_.contains(c)) {
            Step s = from_status(used_.insert(c, c + 1));
            if (s != Step::ok) return s;
            continue;
        }
        const size_t i = shared_lower_bound(c);
        if (i < shared_count_ && shared_[i].cluster == c) {
            ++shared_[i].extra;
            continue;
        }
        if (shared_count_ == shared_capacity_) return Step::no_scratch;
        for (size_t k = shared_count_; k > i; --k) shared_[k] = shared_[k - 1];
        shared_[i] = Shared{c, 1};
        ++shared_count_;
    }
    return Step::ok;
}

Step Allocator::count_down(uint64_t begin, uint64_t end) {
    const size_t first = shared_lower_bound(begin);
    if (first == shared_count_ || shared_[first].cluster >= end) return from_status(used_.erase(begin, end));
    for (uint64_t c = begin; c < end; ++c) {
        const size_t i = shared_lower_bound(c);
        if (i < shared_count_ && shared_[i].cluster == c) {
            if (--shared_[i].extra == 0) {
                for (size_t k = i; k + 1 < shared_count_; ++k) shared_[k] = shared_[k + 1];
                --shared_count_;
            }
            continue;
        }
        Step s = from_status(used_.erase(c, c + 1));
        if (s != Step::ok) return s;
    }
    return Step::ok;
}

Step Allocator::alloc_bytes(uint64_t bytes, uint64_t& result) {
    const uint64_t cs = cluster_size();
    if (bytes == 0 || bytes > cs) return Step::broken;
    const uint32_t width = 1u << refcount_order_;
    const uint64_t refcount_max = width == 64 ? ~uint64_t(0) : (uint64_t(1) << width) - 1;
    uint64_t offset = free_byte_offset_;
    if (offset && refcount(offset >> cluster_bits_) == refcount_max) offset = 0;
    uint64_t free_in_cluster = cs - (offset & (cs - 1));
    Step s;
    do {
        if (!offset || free_in_cluster < bytes) {
            uint64_t new_cluster = 0;
            s = alloc_clusters_noref(cs, new_cluster);
            if (s != Step::ok) return s;
            if (new_cluster == 0) return Step::broken;
            if (!offset || round_up(offset, cs) != new_cluster) {
                offset = new_cluster;
                free_in_cluster = cs;
            } else {
                free_in_cluster += cs;
            }
        }
        s = update_refcount(offset, bytes, false);
        if (s != Step::ok) offset = 0;
    } while (s == Step::again);
    if (s != Step::ok) return s;
    free_byte_offset_ = offset + bytes;
    if ((free_byte_offset_ & (cs - 1)) == 0) free_byte_offset_ = 0;
    result = offset;
    return Step::ok;
}

Step Allocator::ensure_refblock(uint64_t cluster_index) {
    const uint64_t index = cluster_index >> refblock_bits_;
    if (index < table_size_ && table_[index] != 0) return Step::ok;

    uint64_t new_block = 0;
    Step s = alloc_clusters_noref(cluster_size(), new_block);
    if (s != Step::ok) return s;
    const uint64_t new_cluster = new_block >> cluster_bits_;
    if ((new_cluster >> refblock_bits_) == index) {
        // The new block lies in the range it covers and counts itself.
        s = from_status(used_.insert(new_cluster, new_cluster + 1));
    } else {
        // Counted by another block, which may have to be created first;
        // if that one asks for a retry, this block is abandoned unwritten.
        s = update_refcount(new_block, cluster_size(), false);
    }
    if (s != Step::ok) return s;
    note_extent(new_block, cluster_size());

    if (index < table_size_) {
        table_[index] = new_block;
        if (index > max_table_index_) max_table_index_ = index;
        return Step::again;
    }

    // The table is full: qemu builds new refcount structures past every
    // block already in use and moves the table there.
    const uint64_t refcounts_per_block = uint64_t(1) << refblock_bits_;
    const uint64_t blocks_used = div_round_up(max_u64(cluster_index + 1, new_cluster + 1), refcounts_per_block);
    const uint64_t meta_offset = (blocks_used * refcounts_per_block) << cluster_bits_;
    uint64_t end_offset = 0;
    s = refcount_area(meta_offset, 0, false, index, new_block, end_offset);
    if (s != Step::ok) return s;
    return Step::again;
}

Step Allocator::refcount_area(uint64_t start, uint64_t additional, bool exact, uint64_t new_block_index,
                              uint64_t new_block_offset, uint64_t& end_offset) {
    const uint64_t cs = cluster_size();
    const uint64_t refcounts_per_block = uint64_t(1) << refblock_bits_;
    if (start % cs != 0) return Step::broken;

    const uint64_t total_blocks =
        refcount_blocks_for((start >> cluster_bits_) + additional, cluster_bits_, refcount_order_, !exact);
    if (total_blocks > kMaxRefcountTableSize) return Step::too_big;
    const uint64_t area_index = (start >> cluster_bits_) >> refblock_bits_;

    uint64_t new_size = exact ? total_blocks : total_blocks + div_round_up(total_blocks, 2);
    new_size = round_up(new_size, cs / kEntryBytes);
    const uint64_t table_clusters = (new_size * kEntryBytes) >> cluster_bits_;
    if (new_size > kMaxRefcountTableSize) return Step::too_big;

    uint64_t* new_table = arena_->alloc_array<uint64_t>(new_size);
    if (!new_table) return Step::no_scratch;
    const uint64_t copy = new_size > max_table_index_ ? max_table_index_ + 1 : new_size;
    __builtin_memcpy(new_table, table_, copy * sizeof(uint64_t));
    if (new_block_offset != 0) {
        if (new_block_index >= total_blocks) return Step::broken;
        new_table[new_block_index] = new_block_offset;
    }

    uint64_t additional_blocks = 0;
    for (uint64_t i = area_index; i < total_blocks; ++i) {
        if (new_table[i] == 0) ++additional_blocks;
    }
    const uint64_t table_offset = start + additional_blocks * cs;
    end_offset = table_offset + table_clusters * cs;

    uint64_t block_offset = start;
    for (uint64_t i = area_index; i < total_blocks; ++i) {
        if (new_table[i] == 0) {
            new_table[i] = block_offset;
            note_extent(block_offset, cs);
            block_offset += cs;
        }
        const uint64_t first_covered = (i * refcounts_per_block) << cluster_bits_;
        if (first_covered < end_offset) {
            const uint64_t from = first_covered < start ? (start - first_covered) >> cluster_bits_ : 0;
            const uint64_t to = min_u64((end_offset - first_covered) >> cluster_bits_, refcounts_per_block);
            const uint64_t base = first_covered >> cluster_bits_;
            Step s = from_status(used_.insert(base + from, base + to));
            if (s != Step::ok) return s;
        }
    }
    if (block_offset != table_offset) return Step::broken;
    note_extent(table_offset, new_size * kEntryBytes);

    if (stale_count_ == kMaxStaleTables) return Step::no_scratch;
    stale_[stale_count_++] = StaleTable{table_offset_, table_, table_size_};
    const uint64_t old_offset = table_offset_;
    const uint64_t old_size = table_size_;
    table_ = new_table;
    table_size_ = new_size;
    table_offset_ = table_offset;
    update_max_table_index();

    // qemu would only leak the old table if freeing failed; here a failure
    // means the model went wrong, so it is not ignored.
    return free_clusters(old_offset, old_size * kEntryBytes);
}

Step Allocator::alloc_clusters(uint64_t bytes, uint64_t& offset) {
    Step s;
    do {
        s = alloc_clusters_noref(bytes, offset);
        if (s != Step::ok) return s;
        s = update_refcount(offset, bytes, false);
    } while (s == Step::again);
    return s;
}

Step Allocator::alloc_clusters_at(uint64_t offset, uint64_t count, uint64_t& got) {
    got = 0;
    if (count == 0) return Step::ok;
    Step s;
    do {
        got = used_.free_run_length(offset >> cluster_bits_, count);
        s = update_refcount(offset, got << cluster_bits_, false);
    } while (s == Step::again);
    return s;
}

Step Allocator::free_clusters(uint64_t offset, uint64_t bytes) {
    return update_refcount(offset, bytes, true);
}

}  // namespace instar::formats::qcow2
