#include "host/guest_memory.h"

#include <sys/mman.h>

#include <cerrno>

#include "host/error.h"

namespace instar {

GuestMemory::GuestMemory(uint64_t size) : size_(size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw_errno("cannot allocate guest memory", errno);
    // No MADV_HUGEPAGE: a transparent huge page is cleared whole (2 MiB) on
    // its first touch, and a short run touches a few dozen scattered 4 KiB
    // pages (huge pages cost `info` ~0.6 ms; `copy` gained nothing).
    base_ = static_cast<uint8_t*>(p);
}

GuestMemory::GuestMemory(uint64_t size, SharedAt shared) : size_(size) {
    void* want = reinterpret_cast<void*>(shared.address);
    void* p = mmap(want, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED) throw_errno("cannot allocate guest memory", errno);
    // Kernels before 4.17 take MAP_FIXED_NOREPLACE as a hint only.
    if (p != want) {
        munmap(p, size);
        throw Error("cannot allocate guest memory at its fixed address");
    }
    base_ = static_cast<uint8_t*>(p);
}

GuestMemory::~GuestMemory() { munmap(base_, size_); }

uint8_t* GuestMemory::at(uint64_t gpa, uint64_t len) const {
    if (gpa > size_ || len > size_ - gpa) return nullptr;
    return base_ + gpa;
}

uint8_t* GuestMemory::dma(uint64_t gpa, uint64_t len) const {
    for (const GuestRange& r : dma_ranges_)
        if (gpa >= r.start && gpa <= r.end && len <= r.end - gpa) return at(gpa, len);
    return nullptr;
}

}  // namespace instar
