// zlib's memory for one stream: a piece of an Arena set aside when the
// stream is made. zlib allocates its state at init and, when inflating, its
// window on the first call that makes output; a reset keeps both, so a
// stream that is reset rather than ended never needs more, and nothing is
// ever given back. Without this zlib would call malloc (zcalloc), which the
// guest does not have.
#pragma once

#include <stddef.h>

// next_in points at const bytes (as qemu builds it).
#ifndef ZLIB_CONST
#define ZLIB_CONST
#endif
#include <zlib.h>

#include "formats/common/arena.h"

namespace instar::formats {

class ZlibMemory {
public:
    // Sets aside `bytes` of `arena`; false when they do not fit.
    bool reserve(Arena& arena, size_t bytes);
    // Makes `strm` allocate from the piece set aside (before its init).
    void attach(z_stream& strm);

    // What zlib.h gives as the memory of a stream, and room for zlib's
    // state structure (about 7 KB inflating, 6 KB deflating) and alignment.
    static constexpr size_t inflate_bytes(int window_bits) { return (size_t(1) << window_bits) + kStateSlack; }
    static constexpr size_t deflate_bytes(int window_bits, int mem_level) {
        return (size_t(1) << (window_bits + 2)) + (size_t(1) << (mem_level + 9)) + kStateSlack;
    }

private:
    static constexpr size_t kStateSlack = 12 * 1024;
    static voidpf alloc(voidpf opaque, uInt items, uInt size);
    static void free(voidpf opaque, voidpf address);

    Arena piece_{nullptr, 0};
};

}  // namespace instar::formats
