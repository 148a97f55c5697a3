#include "formats/common/zlib_memory.h"

namespace instar::formats {

bool ZlibMemory::reserve(Arena& arena, size_t bytes) {
    // Not cleared: zlib initialises what it reads (the arena clears what it
    // hands out again anyway).
    void* base = arena.alloc(bytes, 64, false);
    if (!base) return false;
    piece_ = Arena(base, bytes);
    return true;
}

void ZlibMemory::attach(z_stream& strm) {
    strm.zalloc = &ZlibMemory::alloc;
    strm.zfree = &ZlibMemory::free;
    strm.opaque = this;
}

voidpf ZlibMemory::alloc(voidpf opaque, uInt items, uInt size) {
    // zlib asks for items * size, each at most 2^32 - 1: no overflow in 64 bits.
    return static_cast<ZlibMemory*>(opaque)->piece_.alloc(size_t(items) * size, 16, false);
}

// Bump allocation gives nothing back; the streams are reset, never ended,
// so zlib only frees here if an init fails half way.
void ZlibMemory::free(voidpf, voidpf) {}

}  // namespace instar::formats
