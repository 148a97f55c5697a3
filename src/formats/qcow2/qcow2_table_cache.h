// A few slices of qcow2 metadata tables (L1, L2) held in memory, so that
// walking a disk reads each slice once while memory stays bounded whatever
// the image's size: qemu's L2 cache, in a fixed number of fixed-size slots
// from the arena, least recently used slot replaced first.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats::qcow2 {

class TableCache {
public:
    // `slots` slices of `slice_bytes` each; out_of_memory when the arena
    // cannot hold them.
    Status init(Arena& arena, uint32_t slots, size_t slice_bytes);

    size_t slice_bytes() const { return slice_bytes_; }

    // The slice_bytes() bytes of the file at `offset`, read when not held
    // (zeroes past the end of the file, as qemu reads them; nothing past
    // it is asked of the device). Valid until the next get().
    Status get(ImageSource& src, uint64_t offset, const uint8_t*& out);

private:
    struct Slot {
        uint64_t offset;
        uint64_t last_use;  // 0: empty
    };
    Slot* slots_ = nullptr;
    uint8_t* data_ = nullptr;
    uint32_t count_ = 0;
    size_t slice_bytes_ = 0;
    uint64_t tick_ = 0;
};

}  // namespace instar::formats::qcow2
