// The vhdx writer (convert -O vhdx) on arbitrary layouts and writes: the
// input's first bytes choose the image (dynamic or fixed, ZERO or
// NOT_PRESENT blocks, block and log size, disk size, the entropy its
// GUIDs come from), the rest the writes (writer_round_trip.h).
#include "writer_round_trip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    namespace abi = instar::abi;
    constexpr uint64_t kMiB = 1u << 20;
    constexpr uint64_t kMaxSize = 8 * kMiB;
    instar::fuzz::InputBytes in(data, size);
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::vhdx);
    const uint8_t shape = in.next();
    req.flags = abi::kCreateHasSize | (shape & 1 ? abi::kCreateBlockStateZero : 0);
    req.vhdx_subformat = uint32_t(shape & 2 ? abi::VhdxSubformat::fixed : abi::VhdxSubformat::dynamic);
    req.vhdx_block_size = uint32_t(kMiB << (in.next() % 4));
    req.vhdx_log_size = kMiB * (1 + in.next() % 2);
    req.size = (uint64_t(in.next()) << 16 | uint64_t(in.next()) << 8) % kMaxSize / 512 * 512 + 512;
    for (uint8_t& e : req.entropy) e = in.next();
    // Blocks are MiBs: gaps may be too, to allocate many of them.
    instar::fuzz::check_writer_round_trip(req, in, {128 * kMiB, 1 * kMiB, 256});
    return 0;
}
