#include "formats/qcow2/qcow2_table_cache.h"

#include "formats/common/qemu_block_view.h"

namespace instar::formats::qcow2 {

Status TableCache::init(Arena& arena, uint32_t slots, size_t slice_bytes) {
    slots_ = arena.alloc_array<Slot>(slots);
    // Slices are read whole into place: page-aligned, so the device can
    // fill them without a bounce buffer.
    data_ = slots_ && slice_bytes <= size_t(-1) / slots
                ? static_cast<uint8_t*>(arena.alloc(size_t(slots) * slice_bytes, 4096, false))
                : nullptr;
    if (!data_) return Status::out_of_memory;
    count_ = slots;
    slice_bytes_ = slice_bytes;
    return kOk;
}

Status TableCache::get(ImageSource& src, uint64_t offset, const uint8_t*& out) {
    uint32_t victim = 0;
    for (uint32_t i = 0; i < count_; ++i) {
        Slot& s = slots_[i];
        if (s.last_use != 0 && s.offset == offset) {
            s.last_use = ++tick_;
            out = data_ + size_t(i) * slice_bytes_;
            return kOk;
        }
        if (s.last_use < slots_[victim].last_use) victim = i;
    }
    Slot& s = slots_[victim];
    uint8_t* buf = data_ + size_t(victim) * slice_bytes_;
    s.last_use = 0;  // a failed read leaves the slot empty
    if (!qemu_read(src, offset, buf, slice_bytes_)) return Status::read_failed;
    s.offset = offset;
    s.last_use = ++tick_;
    out = buf;
    return kOk;
}

}  // namespace instar::formats::qcow2
