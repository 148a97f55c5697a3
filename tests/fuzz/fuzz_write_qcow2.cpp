// The qcow2 writer (convert -O qcow2) on arbitrary layouts and writes: the
// input's first bytes choose the image (cluster size, refcount width,
// version, extended L2, preallocation, compressed writes with zlib or
// zstd, size), the rest the writes (writer_round_trip.h).
#include "writer_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace abi = instar::abi;
    constexpr uint64_t kMaxSize = 4u << 20;
    instar::fuzz::InputBytes in(data, size);
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::qcow2);
    const uint8_t shape = in.next();
    req.cluster_size = 512u << (in.next() % 13);
    req.refcount_bits = 1u << (in.next() % 7);
    req.qcow2_version = shape & 1 ? 2 : 3;
    req.flags = abi::kCreateHasSize | (shape & 2 ? abi::kCreateExtendedL2 : 0);
    req.preallocation = shape & 4 ? (shape >> 3) % 4 : 0;
    // convert -c: compressed clusters (never with preallocation: refused).
    const bool compressed = (shape & 0x20) && !(shape & 4);
    if (shape & 0x40) req.compression_type = uint32_t(abi::Qcow2Compression::zstd);
    req.size = (uint64_t(in.next()) << 16 | uint64_t(in.next()) << 8) % kMaxSize / 512 * 512 + 512;
    instar::fuzz::check_writer_round_trip(req, in, {256u << 20, 48u << 20}, compressed);
    return 0;
}
