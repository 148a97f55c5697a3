// The vpc writer (convert -O vpc) on arbitrary layouts and writes: the
// input's first bytes choose the image (dynamic or fixed, block size,
// force_size, disk size), the rest the writes (writer_round_trip.h).
#include "writer_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace abi = instar::abi;
    constexpr uint64_t kMaxSize = 8u << 20;
    instar::fuzz::InputBytes in(data, size);
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::vpc);
    const uint8_t shape = in.next();
    req.flags = abi::kCreateHasSize | (shape & 1 ? abi::kCreateForceSize : 0);
    req.vpc_subformat = uint32_t(shape & 2 ? abi::VpcSubformat::fixed : abi::VpcSubformat::dynamic);
    req.vpc_block_size = (512u << 10) << (in.next() % 3);
    req.size = (uint64_t(in.next()) << 16 | uint64_t(in.next()) << 8) % kMaxSize / 512 * 512 + 512;
    for (uint8_t& e : req.entropy) e = in.next();
    instar::fuzz::check_writer_round_trip(req, in, {64u << 20, 1u << 20, 256});
    return 0;
}
