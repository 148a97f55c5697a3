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
#include <vector>

#include "host/guest_memory.h"

namespace instar::fuzz {

inline constexpr uint64_t kPage = 4096;

// GuestMemory maps its own anonymous memory. To make a host access just
// past either end fault (instead of landing in whatever mapping happens to
// be adjacent), reserve the RAM plus one page each side as PROT_NONE, free
// the middle, and let GuestMemory's mmap take the hole: the kernel places a
// mapping in the highest gap that fits, which is that hole. If it lands
// elsewhere the run goes on without guards (and says so once).
class GuardedGuestMemory {
public:
    explicit GuardedGuestMemory(uint64_t size) {
        void* r = mmap(nullptr, size + 2 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r == MAP_FAILED) std::abort();
        auto* reserve = static_cast<uint8_t*>(r);
        munmap(reserve + kPage, size);
        memory_ = std::make_unique<GuestMemory>(size);
        guarded_ = memory_->base() == reserve + kPage;
        if (!guarded_) {
            munmap(reserve, kPage);
            munmap(reserve + kPage + size, kPage);
            std::fprintf(stderr, "instar-fuzz: guest RAM did not land between guard pages; running without them\n");
        }
    }
    GuestMemory& operator*() { return *memory_; }
    GuestMemory* operator->() { return memory_.get(); }
    bool guarded() const { return guarded_; }

private:
    std::unique_ptr<GuestMemory> memory_;
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
