// Where every live virtqueue of a run keeps its rings (descriptor table,
// avail ring, used ring), for all its devices together. No device buffer
// may overlap any of them: a read into a ring would let the file being read
// rewrite the queue being served (the audit's endless notify), and a read
// into another device's ring would let one queue rewrite the next.
//
// There is one queue per device but up to 2049 devices, so a buffer is
// checked in O(log n) against ranges sorted by start, with the largest end
// so far beside each.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "host/guest_memory.h"

namespace instar {

class RingRegistry {
public:
    // A queue's rings, under a key of its own (the queue's address).
    void add(const void* owner, std::initializer_list<GuestRange> rings);
    void remove(const void* owner);

    // Device work holds this while it checks buffers and moves bytes, so a
    // ring set up meanwhile (by the vCPU, for another device, while an I/O
    // thread serves this one) cannot land on a buffer already checked: add()
    // and remove() wait for it.
    std::shared_lock<std::shared_mutex> hold() const { return std::shared_lock<std::shared_mutex>(mutex_); }

    // [gpa, gpa+len) overlaps a live ring. The caller holds hold() (or is
    // the only thread) and has checked the range lies in guest memory.
    bool overlaps(uint64_t gpa, uint64_t len) const;

private:
    struct Entry {
        GuestRange range;
        const void* owner;
    };
    void index();  // rebuilds max_end_ after a change

    mutable std::shared_mutex mutex_;
    std::vector<Entry> by_start_;   // sorted by range.start
    std::vector<uint64_t> max_end_;  // max_end_[i]: largest end of by_start_[0..i]
};

}  // namespace instar
