// Shared by the host trust-boundary targets: guest RAM with guard pages on
// both sides, ASan poisoning of the parts of it the host must not touch,
// and a memfd standing in for an image file.
#pragma once

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "host/guest_memory.h"

namespace instar::fuzz {

inline constexpr uint64_t kPage = 4096;
inline constexpr uint64_t kAlign = 2u << 20;

// GuestMemory maps its own anonymous memory. To make a host access just
// past either end fault (instead of landing in whatever mapping happens to
// be adjacent), RAM gets a PROT_NONE page on each side. GuestMemory's mmap
// cannot be told where to go, so: reserve a PROT_NONE region, free a hole
// in its middle with 2 MiB of slack (recent kernels place mappings of 2 MiB
// and more on 2 MiB boundaries and look for that much extra room), let
// GuestMemory map, and put guard pages in the slack on each side of where
// it landed (or rely on the rest of the reservation where it landed flush
// against it). If it landed elsewhere (a higher free gap), guard pages are
// tried there; failing that, the attempt is kept, so the next cannot take
// that gap again, and freed at the end. If every attempt misses, the run
// goes on without guards and says so.
class GuardedGuestMemory {
public:
    explicit GuardedGuestMemory(uint64_t size) {
        for (int attempt = 0; attempt < 32 && !memory_; ++attempt) {
            auto slot = std::make_unique<std::optional<GuestMemory>>();  // allocated before the hole exists
            const uint64_t total = size + 4 * kAlign;
            void* r = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (r == MAP_FAILED) std::abort();
            auto* reserve = static_cast<uint8_t*>(r);
            uint8_t* hole_lo = reserve + kAlign;
            uint8_t* hole_hi = reserve + total - kAlign;
            munmap(hole_lo, size_t(hole_hi - hole_lo));
            slot->emplace(size);
            uint8_t* base = (*slot)->base();
            bool ok;
            if (base >= hole_lo && base + size <= hole_hi) {
                ok = (base == hole_lo || guard_at(base - kPage)) && (base + size == hole_hi || guard_at(base + size));
            } else {
                munmap(reserve, kAlign);
                munmap(hole_hi, kAlign);
                ok = guard_at(base - kPage) && guard_at(base + size);
            }
            if (ok) {
                memory_ = std::move(slot);
                guarded_ = true;
            } else {
                held_.push_back(std::move(slot));
            }
        }
        held_.clear();
        if (!memory_) {
            memory_ = std::make_unique<std::optional<GuestMemory>>();
            memory_->emplace(size);
            std::fprintf(stderr, "instar-fuzz: no guard pages around guest RAM; running without\n");
        }
    }
    GuestMemory& operator*() { return **memory_; }
    GuestMemory* operator->() { return &**memory_; }
    bool guarded() const { return guarded_; }

private:
    // A PROT_NONE page exactly at `at`, unless something is mapped there.
    static bool guard_at(uint8_t* at) {
        void* g = mmap(at, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (g == MAP_FAILED) return false;
        if (g != at) {  // kernels before 4.17 take the flag as a hint
            munmap(g, kPage);
            return false;
        }
        return true;
    }

    std::unique_ptr<std::optional<GuestMemory>> memory_;
    std::vector<std::unique_ptr<std::optional<GuestMemory>>> held_;
    bool guarded_ = false;
};

// [lo, hi) of guest RAM, made unaddressable (or addressable again) for ASan:
// any instrumented access, memcpy, or preadv/pwritev buffer there is a report.
inline void poison_ram(GuestMemory& m, uint64_t lo, uint64_t hi) {
    hi = std::min(hi, m.size());
    if (lo < hi) ASAN_POISON_MEMORY_REGION(m.base() + lo, hi - lo);
}
inline void unpoison_ram(GuestMemory& m) { ASAN_UNPOISON_MEMORY_REGION(m.base(), m.size()); }

// Copies `len` bytes to guest RAM at `gpa`, dropping what falls outside.
inline void place(GuestMemory& m, uint64_t gpa, const uint8_t* data, size_t len) {
    if (gpa >= m.size()) return;
    const size_t n = size_t(std::min<uint64_t>(len, m.size() - gpa));
    if (n) std::memcpy(m.base() + gpa, data, n);
}

// One memory file reused across runs (an input image or the output).
class MemFile {
public:
    MemFile() {
        fd_ = memfd_create("instar-fuzz-disk", MFD_CLOEXEC);
        if (fd_ < 0) std::abort();
    }
    ~MemFile() { close(fd_); }
    int fd() const { return fd_; }
    // Empties the file, then fills `size` bytes with a fixed pattern
    // (leaving every other 4 KiB block a hole, to exercise SEEK_DATA).
    void reset(uint64_t size) {
        if (ftruncate(fd_, 0) != 0 || ftruncate(fd_, off_t(size)) != 0) std::abort();
        static uint8_t block[kPage];
        if (block[1] == 0)
            for (size_t i = 0; i < kPage; ++i) block[i] = uint8_t(i * 131 + 7);
        for (uint64_t off = 0; off < size; off += 2 * kPage) {
            const size_t n = size_t(std::min<uint64_t>(kPage, size - off));
            if (pwrite(fd_, block, n, off_t(off)) != ssize_t(n)) std::abort();
        }
    }

private:
    int fd_ = -1;
};

// BlockBackend grows fields on other branches (e.g. allocate_by_writing);
// set them when they exist.
template <typename B>
void set_allocate_by_writing(B& b, bool value) {
    if constexpr (requires { b.allocate_by_writing; }) b.allocate_by_writing = value;
    (void)b;
    (void)value;
}

}  // namespace instar::fuzz
