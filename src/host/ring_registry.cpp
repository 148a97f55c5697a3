#include "host/ring_registry.h"

#include <algorithm>

namespace instar {

void RingRegistry::add(const void* owner, std::initializer_list<GuestRange> rings) {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    for (const GuestRange& r : rings) {
        auto at = std::upper_bound(by_start_.begin(), by_start_.end(), r.start,
                                   [](uint64_t start, const Entry& e) { return start < e.range.start; });
        by_start_.insert(at, Entry{r, owner});
    }
    index();
}

void RingRegistry::remove(const void* owner) {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    std::erase_if(by_start_, [owner](const Entry& e) { return e.owner == owner; });
    index();
}

void RingRegistry::index() {
    max_end_.resize(by_start_.size());
    uint64_t end = 0;
    for (size_t i = 0; i < by_start_.size(); ++i) max_end_[i] = end = std::max(end, by_start_[i].range.end);
}

bool RingRegistry::overlaps(uint64_t gpa, uint64_t len) const {
    if (len == 0) return false;  // moves no byte
    const uint64_t end = gpa + len;
    // Rings starting before the buffer ends; one of them overlaps it iff
    // the largest end among them lies past the buffer's start.
    auto after = std::lower_bound(by_start_.begin(), by_start_.end(), end,
                                  [](const Entry& e, uint64_t value) { return e.range.start < value; });
    size_t n = size_t(after - by_start_.begin());
    return n > 0 && max_end_[n - 1] > gpa;
}

}  // namespace instar
