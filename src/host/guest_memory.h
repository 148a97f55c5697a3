// The guest's RAM as the host sees it, and the only way host code turns a
// guest-physical address into a pointer: every access is bounds-checked,
// overflow included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace instar {

// Copies bytes out of guest memory exactly once. With a device I/O thread
// the guest runs while the host reads its rings and request headers, so it
// can change them at any time: the value checked must be the value used,
// and the barrier keeps the compiler from reading guest memory again in
// place of the copy.
inline void copy_from_guest(void* dst, const void* src, size_t n) {
    std::memcpy(dst, src, n);
    asm volatile("" ::: "memory");
}

struct GuestRange {
    uint64_t start;
    uint64_t end;  // exclusive
};

class GuestMemory {
public:
    explicit GuestMemory(uint64_t size);
    // RAM shared with the processes this one forks, at a fixed address (the
    // process sandbox's, abi::kProcessRamBase): each sees the other's writes.
    struct SharedAt {
        uint64_t address;
    };
    GuestMemory(uint64_t size, SharedAt shared);
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
