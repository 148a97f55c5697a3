// The guest's RAM as the host sees it, and the only way host code turns a
// guest-physical address into a pointer: every access is bounds-checked,
// overflow included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace instar {

struct GuestRange {
    uint64_t start;
    uint64_t end;  // exclusive
};

class GuestMemory {
public:
    explicit GuestMemory(uint64_t size);
    ~GuestMemory();
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;

    uint8_t* base() const { return base_; }
    uint64_t size() const { return size_; }

    // [gpa, gpa+len) inside RAM, or nullptr. For reading guest messages.
    uint8_t* at(uint64_t gpa, uint64_t len) const;

    // Device (DMA) access: [gpa, gpa+len) must lie wholly inside one range
    // the guest may write itself (set by the loader). Host-owned memory,
    // page tables, code and read-only data can never be a device buffer.
    uint8_t* dma(uint64_t gpa, uint64_t len) const;
    void set_dma_ranges(std::vector<GuestRange> ranges) { dma_ranges_ = std::move(ranges); }

private:
    uint8_t* base_;
    uint64_t size_;
    std::vector<GuestRange> dma_ranges_;
};

}  // namespace instar
