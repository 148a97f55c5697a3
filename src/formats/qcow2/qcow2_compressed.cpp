#include "formats/qcow2/qcow2_compressed.h"

#include <new>

#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

static_assert((size_t(1) << kMaxClusterBits) <= kMaxDecodeUnitBytes, "a shared scratch holds any cluster");

// A descriptor's bytes from the file, one buffer's worth at a time.
class ExtentInput final : public CompressedInput {
public:
    ExtentInput(ImageSource& src, const CompressedExtent& c, uint8_t* buffer, size_t buffer_bytes)
        : src_(src), at_(c.offset), left_(c.bytes), buffer_(buffer), buffer_bytes_(buffer_bytes) {}

    Status next(const uint8_t*& data, size_t& len) override {
        len = size_t(left_ < buffer_bytes_ ? left_ : buffer_bytes_);
        data = buffer_;
        if (len == 0) return kOk;
        // qemu reads the whole extent with one bdrv_co_pread: always within
        // its limits (an offset below 2^62, at most 4 MiB), zeroes past
        // the end of the file.
        if (!qemu_read(src_, at_, buffer_, len)) return Status::read_failed;
        at_ += len;
        left_ -= len;
        return kOk;
    }

private:
    ImageSource& src_;
    uint64_t at_;
    uint64_t left_;
    uint8_t* buffer_;
    size_t buffer_bytes_;
};

}  // namespace

Status CompressedClusters::init(Arena& arena, ClusterCompression type, uint32_t cluster_bits, DecodeScratch* shared) {
    cluster_bytes_ = size_t(1) << cluster_bits;
    if (shared) {
        scratch_ = shared;
    } else {
        void* mem = arena.alloc(sizeof(DecodeScratch), alignof(DecodeScratch), false);
        if (!mem) return Status::out_of_memory;
        scratch_ = ::new (mem) DecodeScratch();
        const Status st = scratch_->init(arena, cluster_bytes_, type);
        if (st != kOk) return st;
    }
    decoder_ = scratch_->decoder(type);
    user_ = scratch_->join();
    return decoder_ && scratch_->max_bytes() >= cluster_bytes_ ? kOk : Status::internal;
}

Status CompressedClusters::get(ImageSource& src, const CompressedExtent& c, const uint8_t*& cluster) {
    if (!scratch_->holds(user_, c.offset, c.bytes)) {
        uint8_t* out = scratch_->decode_into();
        ExtentInput in(src, c, scratch_->input(), scratch_->max_bytes());
        const Status st = decoder_->decompress(in, out, cluster_bytes_);
        if (st != kOk) return st;
        scratch_->hold(user_, c.offset, c.bytes);
    }
    cluster = scratch_->output();
    return kOk;
}

}  // namespace instar::formats::qcow2
