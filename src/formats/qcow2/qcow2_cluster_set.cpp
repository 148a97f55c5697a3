#include "formats/qcow2/qcow2_cluster_set.h"

namespace instar::formats::qcow2 {

bool ClusterSet::init(Arena& arena, size_t capacity) {
    ranges_ = arena.alloc_array<Range>(capacity);
    count_ = 0;
    capacity_ = ranges_ ? capacity : 0;
    return ranges_ != nullptr;
}

size_t ClusterSet::lower_bound(uint64_t cluster) const {
    size_t lo = 0, hi = count_;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ranges_[mid].end <= cluster) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

bool ClusterSet::contains(uint64_t cluster) const {
    size_t i = lower_bound(cluster);
    return i < count_ && ranges_[i].begin <= cluster;
}

uint64_t ClusterSet::find_free_run(uint64_t from, uint64_t count) const {
    uint64_t start = from;
    for (size_t i = lower_bound(from); i < count_; ++i) {
        if (ranges_[i].begin >= start + count) break;
        if (ranges_[i].end > start) start = ranges_[i].end;
    }
    return start;
}

uint64_t ClusterSet::free_run_length(uint64_t from, uint64_t limit) const {
    size_t i = lower_bound(from);
    if (i == count_) return limit;
    if (ranges_[i].begin <= from) return 0;
    uint64_t gap = ranges_[i].begin - from;
    return gap < limit ? gap : limit;
}

bool ClusterSet::last_below(uint64_t end_cluster, uint64_t& cluster) const {
    if (end_cluster == 0) return false;
    size_t i = lower_bound(end_cluster - 1);
    if (i < count_ && ranges_[i].begin <= end_cluster - 1) {
        cluster = end_cluster - 1;
        return true;
    }
    if (i == 0) return false;
    cluster = ranges_[i - 1].end - 1;
    return true;
}

Status ClusterSet::insert(uint64_t begin, uint64_t end) {
    if (begin >= end) return kOk;
    size_t i = lower_bound(begin);
    if (i < count_ && ranges_[i].begin < end) return Status::internal;
    const bool join_prev = i > 0 && ranges_[i - 1].end == begin;
    const bool join_next = i < count_ && ranges_[i].begin == end;
    if (join_prev && join_next) {
        ranges_[i - 1].end = ranges_[i].end;
        __builtin_memmove(&ranges_[i], &ranges_[i + 1], (count_ - i - 1) * sizeof(Range));
        --count_;
    } else if (join_prev) {
        ranges_[i - 1].end = end;
    } else if (join_next) {
        ranges_[i].begin = begin;
    } else {
        if (count_ == capacity_) return Status::scratch_exceeded;
        __builtin_memmove(&ranges_[i + 1], &ranges_[i], (count_ - i) * sizeof(Range));
        ranges_[i] = Range{begin, end};
        ++count_;
    }
    return kOk;
}

Status ClusterSet::erase(uint64_t begin, uint64_t end) {
    if (begin >= end) return kOk;
    size_t i = lower_bound(begin);
    if (i == count_ || ranges_[i].begin > begin || ranges_[i].end < end) return Status::internal;
    Range r = ranges_[i];
    if (r.begin == begin && r.end == end) {
        __builtin_memmove(&ranges_[i], &ranges_[i + 1], (count_ - i - 1) * sizeof(Range));
        --count_;
    } else if (r.begin == begin) {
        ranges_[i].begin = end;
    } else if (r.end == end) {
        ranges_[i].end = begin;
    } else {
        if (count_ == capacity_) return Status::scratch_exceeded;
        __builtin_memmove(&ranges_[i + 1], &ranges_[i], (count_ - i) * sizeof(Range));
        ranges_[i].end = begin;
        ranges_[i + 1].begin = end;
        ++count_;
    }
    return kOk;
}

}  // namespace instar::formats::qcow2
