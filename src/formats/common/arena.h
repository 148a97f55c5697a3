// Scratch memory for format code, which has no heap: a bump allocator over a
// caller-provided buffer. Everything is released at once with reset().
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats {

class Arena {
public:
    // `known_zero`: the buffer is all zeroes to begin with (fresh guest
    // memory), so memory never handed out before needs no clearing. In the
    // guest every first touch of a page is a costly fault, and a large table
    // that is mostly left unused then costs only the pages really used.
    Arena(void* base, size_t size, bool known_zero = false)
        : base_(static_cast<uint8_t*>(base)), size_(size), dirty_(known_zero ? 0 : size) {}

    // Zero-filled unless `zero` is false (for buffers about to be filled
    // wholesale); `align` a power of two; nullptr when it does not fit.
    void* alloc(size_t bytes, size_t align = 16, bool zero = true) {
        // Align the address, not the offset: the buffer may start anywhere.
        uintptr_t at = reinterpret_cast<uintptr_t>(base_) + used_;
        size_t start = used_ + ((align - at % align) % align);
        if (start < used_ || start > size_ || bytes > size_ - start) return nullptr;
        used_ = start + bytes;
        uint8_t* p = base_ + start;
        if (zero && start < dirty_) {
            size_t end = used_ < dirty_ ? used_ : dirty_;
            for (size_t i = 0; i < end - start; ++i) p[i] = 0;
        }
        return p;
    }
    template <typename T>
    T* alloc_array(size_t count) {
        if (count > size_t(-1) / sizeof(T)) return nullptr;
        return static_cast<T*>(alloc(count * sizeof(T), alignof(T) < 16 ? 16 : alignof(T)));
    }

    size_t used() const { return used_; }
    size_t capacity() const { return size_; }
    // Everything handed out so far may have been written: clear it when
    // handed out again.
    void reset() { release_to(0); }
    // Gives back everything handed out since used() was `mark` (scratch a
    // step needed only while it ran), keeping what came before.
    void release_to(size_t mark) {
        if (used_ > dirty_) dirty_ = used_;
        if (mark < used_) used_ = mark;
    }

private:
    uint8_t* base_;
    size_t size_;
    size_t used_ = 0;
    size_t dirty_;  // bytes from base_ that may be non-zero
};

}  // namespace instar::formats
