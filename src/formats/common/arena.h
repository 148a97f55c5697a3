// Scratch memory for format code, which has no heap: a bump allocator over a
// caller-provided buffer. Everything is released at once with reset().
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats {

class Arena {
public:
    Arena(void* base, size_t size) : base_(static_cast<uint8_t*>(base)), size_(size) {}

    // Zero-filled unless `zero` is false (for buffers about to be filled
    // wholesale); `align` a power of two; nullptr when it does not fit.
    void* alloc(size_t bytes, size_t align = 16, bool zero = true) {
        size_t start = (used_ + align - 1) & ~(align - 1);
        if (start < used_ || start > size_ || bytes > size_ - start) return nullptr;
        used_ = start + bytes;
        uint8_t* p = base_ + start;
        if (zero)
            for (size_t i = 0; i < bytes; ++i) p[i] = 0;
        return p;
    }
    template <typename T>
    T* alloc_array(size_t count) {
        if (count > size_t(-1) / sizeof(T)) return nullptr;
        return static_cast<T*>(alloc(count * sizeof(T), alignof(T) < 16 ? 16 : alignof(T)));
    }

    size_t used() const { return used_; }
    size_t capacity() const { return size_; }
    void reset() { used_ = 0; }

private:
    uint8_t* base_;
    size_t size_;
    size_t used_ = 0;
};

}  // namespace instar::formats
