// Reads of many small structures (header extensions, snapshot entries,
// bitmap directory entries) served from one 64 KiB window of the file: a
// hostile file can make them tiny and many, and each device read is a
// costly exit from the guest.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/image_io.h"

namespace instar::formats::qcow2 {

class WindowReader {
public:
    static constexpr size_t kWindowBytes = 64 * 1024;

    // `buf` holds kWindowBytes.
    WindowReader(ImageSource& src, uint8_t* buf) : src_(src), buf_(buf) {}

    // Callers check read_allowed() first, so offsets stay far from
    // overflowing.
    bool read(uint64_t offset, uint8_t* dst, size_t len) {
        while (len > 0) {
            if (!valid_ || offset < start_ || offset - start_ >= kWindowBytes) {
                start_ = offset & ~uint64_t(kWindowBytes - 1);
                if (!src_.read(start_, buf_, kWindowBytes)) return false;
                valid_ = true;
            }
            const size_t at = size_t(offset - start_);
            const size_t n = len < kWindowBytes - at ? len : kWindowBytes - at;
            __builtin_memcpy(dst, buf_ + at, n);
            dst += n;
            offset += n;
            len -= n;
        }
        return true;
    }

private:
    ImageSource& src_;
    uint8_t* buf_;
    uint64_t start_ = 0;
    bool valid_ = false;
};

}  // namespace instar::formats::qcow2
