// A replay of qemu 7.2's qcow2 cluster allocator (block/qcow2-refcount.c):
// free-cluster search, refcount updates, refcount block allocation and
// refcount table growth. qemu-img create places every structure through
// this allocator, so reproducing its decisions step by step (including
// the retries and the clusters it skips after them) is what makes the
// emitted layout identical to qemu's.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/status.h"
#include "formats/qcow2/qcow2_cluster_set.h"

namespace instar::formats::qcow2 {

// How a replayed qemu step ended. `again` is qemu's -EAGAIN: metadata was
// allocated under the caller, which must search for free space anew.
enum class Step { ok, again, too_big, no_scratch, broken };
Status step_status(Step s);

// A refcount table that was replaced: qemu frees its clusters but never
// clears them, so its entries stay in the file wherever nothing later
// overwrites them.
struct StaleTable {
    uint64_t offset;
    const uint64_t* entries;
    uint64_t size;  // entries
};

// Number of refcount blocks qemu sizes for `clusters` host clusters
// (qcow2_refcount_metadata_size).
uint64_t refcount_blocks_for(uint64_t clusters, uint32_t cluster_bits, uint32_t refcount_order, bool generous);

class Allocator {
public:
    static constexpr size_t kMaxStaleTables = 64;

    // The state qemu-img create writes before reopening the image: header
    // cluster, a one-cluster refcount table pointing at one empty block.
    // `max_shared`: how many clusters may be shared (0 without compressed
    // clusters).
    Status init(Arena& arena, uint32_t cluster_bits, uint32_t refcount_order, size_t max_ranges,
                size_t max_shared = 0);

    Step alloc_clusters(uint64_t bytes, uint64_t& offset);                 // qcow2_alloc_clusters
    // qcow2_alloc_bytes: room for one compressed cluster, packed after the
    // previous one (compressed clusters share host clusters, whose
    // refcount then counts each of them).
    Step alloc_bytes(uint64_t bytes, uint64_t& offset);
    Step alloc_clusters_at(uint64_t offset, uint64_t count, uint64_t& got);  // qcow2_alloc_clusters_at
    Step free_clusters(uint64_t offset, uint64_t bytes);                   // qcow2_free_clusters
    // qcow2_refcount_area: new self-covering refcount structures at
    // `start`, leaving room for `additional` clusters after them.
    Step refcount_area(uint64_t start, uint64_t additional, bool exact, uint64_t new_block_index,
                       uint64_t new_block_offset, uint64_t& end_offset);

    // Highest allocated cluster below `end_cluster` (qcow2_get_last_cluster).
    bool last_used_cluster(uint64_t end_cluster, uint64_t& cluster) const {
        return used_.last_below(end_cluster, cluster);
    }

    // Every byte range qemu writes or truncates to grows the file.
    void note_extent(uint64_t offset, uint64_t len) {
        if (offset + len > file_end_) file_end_ = offset + len;
    }

    uint64_t file_end() const { return file_end_; }
    uint64_t cluster_size() const { return uint64_t(1) << cluster_bits_; }
    uint32_t cluster_bits() const { return cluster_bits_; }
    uint32_t refcount_order() const { return refcount_order_; }
    uint32_t refblock_bits() const { return refblock_bits_; }
    const ClusterSet& used() const { return used_; }
    // A host cluster's refcount: 0 (free), 1, or more where compressed
    // clusters share it.
    uint64_t refcount(uint64_t cluster) const;
    // Clusters whose refcount is above one, in cluster order, with the
    // count above one.
    struct Shared {
        uint64_t cluster;
        uint64_t extra;
    };
    size_t shared_count() const { return shared_count_; }
    const Shared& shared(size_t i) const { return shared_[i]; }
    size_t shared_lower_bound(uint64_t cluster) const;
    const uint64_t* table() const { return table_; }
    uint64_t table_size() const { return table_size_; }
    uint64_t table_offset() const { return table_offset_; }
    uint64_t table_clusters() const { return (table_size_ * 8) >> cluster_bits_; }
    size_t stale_count() const { return stale_count_; }
    const StaleTable& stale(size_t i) const { return stale_[i]; }

private:
    Step alloc_clusters_noref(uint64_t bytes, uint64_t& offset);
    Step update_refcount(uint64_t offset, uint64_t length, bool decrease);
    Step ensure_refblock(uint64_t cluster_index);  // alloc_refcount_block
    Step count_up(uint64_t begin, uint64_t end);
    Step count_down(uint64_t begin, uint64_t end);
    void update_max_table_index();

    Arena* arena_ = nullptr;
    uint32_t cluster_bits_ = 0;
    uint32_t refcount_order_ = 0;
    uint32_t refblock_bits_ = 0;  // log2 of refcounts per block
    ClusterSet used_;
    uint64_t free_index_ = 0;
    uint64_t* table_ = nullptr;
    uint64_t table_size_ = 0;
    uint64_t table_offset_ = 0;
    uint64_t max_table_index_ = 0;
    uint64_t file_end_ = 0;
    StaleTable stale_[kMaxStaleTables];
    size_t stale_count_ = 0;
    Shared* shared_ = nullptr;
    size_t shared_count_ = 0;
    size_t shared_capacity_ = 0;
    uint64_t free_byte_offset_ = 0;  // qemu's s->free_byte_offset
};

}  // namespace instar::formats::qcow2
