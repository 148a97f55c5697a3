// The set of host clusters whose refcount is one, kept as sorted disjoint
// ranges. While creating an image qemu only ever raises a refcount from
// zero to one or drops it from one to zero, so a set is the whole state;
// anything else is reported as a failed invariant.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/status.h"

namespace instar::formats::qcow2 {

class ClusterSet {
public:
    struct Range {
        uint64_t begin;  // first cluster index
        uint64_t end;    // one past the last
    };

    // False when the arena cannot hold `capacity` ranges.
    bool init(Arena& arena, size_t capacity);

    bool contains(uint64_t cluster) const;
    // First cluster >= `from` starting `count` free clusters in a row.
    uint64_t find_free_run(uint64_t from, uint64_t count) const;
    // Number of free clusters in a row starting at `from`, at most `limit`.
    uint64_t free_run_length(uint64_t from, uint64_t limit) const;
    // Last member below `end_cluster`; false when there is none.
    bool last_below(uint64_t end_cluster, uint64_t& cluster) const;

    // [begin, end) must be entirely free / entirely used.
    Status insert(uint64_t begin, uint64_t end);
    Status erase(uint64_t begin, uint64_t end);

    size_t range_count() const { return count_; }
    const Range& range(size_t i) const { return ranges_[i]; }
    // Index of the first range ending after `cluster` (range_count() if none).
    size_t lower_bound(uint64_t cluster) const;

private:
    Range* ranges_ = nullptr;
    size_t count_ = 0;
    size_t capacity_ = 0;
};

}  // namespace instar::formats::qcow2
