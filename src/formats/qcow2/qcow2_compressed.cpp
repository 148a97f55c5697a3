#include "formats/qcow2/qcow2_compressed.h"

#include "formats/common/qemu_block_view.h"

namespace instar::formats::qcow2 {
namespace {

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

Status CompressedClusters::init(Arena& arena, ClusterCompression type, uint32_t cluster_bits) {
    cluster_bytes_ = size_t(1) << cluster_bits;
    Status st = make_cluster_decompressor(type, arena, decoder_);
    if (st != kOk) return st;
    // Not cleared: both are written before they are read.
    input_ = static_cast<uint8_t*>(arena.alloc(cluster_bytes_, 64, false));
    cluster_ = static_cast<uint8_t*>(arena.alloc(cluster_bytes_, 64, false));
    return input_ && cluster_ ? kOk : Status::out_of_memory;
}

Status CompressedClusters::get(ImageSource& src, const CompressedExtent& c, const uint8_t*& cluster) {
    if (!(held_ && held_extent_.offset == c.offset && held_extent_.bytes == c.bytes)) {
        held_ = false;
        ExtentInput in(src, c, input_, cluster_bytes_);
        const Status st = decoder_->decompress(in, cluster_, cluster_bytes_);
        if (st != kOk) return st;
        held_ = true;
        held_extent_ = c;
    }
    cluster = cluster_;
    return kOk;
}

}  // namespace instar::formats::qcow2
