// Freestanding implementations. `rep movsb/stosb` are fast on every CPU
// KVM runs on (ERMSB) and keep the compiler from turning these loops back
// into calls to themselves.
#include "guest/libc.h"

#include <stdint.h>

#include "guest/hypercall.h"

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
    void* d = dst;
    asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    auto* s = static_cast<const unsigned char*>(src);
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    // Overlap with dst above src: copy backwards.
    unsigned char* d_last = d + n - 1;
    const unsigned char* s_last = s + n - 1;
    asm volatile("std; rep movsb; cld" : "+D"(d_last), "+S"(s_last), "+c"(n) : : "memory");
    return dst;
}

void* memset(void* dst, int c, size_t n) {
    void* d = dst;
    asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto* x = static_cast<const unsigned char*>(a);
    auto* y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; ++i)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n]) ++n;
    return n;
}

// A pure virtual call or a global destructor registration cannot happen in
// correct code; report rather than run on.
void __cxa_pure_virtual() { instar::guest::fail(instar::abi::GuestError::internal, "pure virtual call"); }
int atexit(void (*)()) { return 0; }

}  // extern "C"

// Virtual destructors reference the deleting form; nothing is ever
// allocated with new in the guest.
void operator delete(void*) noexcept { instar::guest::fail(instar::abi::GuestError::internal, "operator delete"); }
void operator delete(void*, size_t) noexcept { instar::guest::fail(instar::abi::GuestError::internal, "operator delete"); }
