// The vmdk writer (convert -O vmdk) on arbitrary layouts and writes: the
// input's first bytes choose the image (monolithicSparse or
// streamOptimized, grain size, zeroed_grain, disk size, entropy) and how
// the writes come: as plain runs (writer_round_trip.h; a streamOptimized
// image gathers them into grains), or as convert -c sends them, a whole
// grain at a time (the disk's last one short), through write_compressed.
// Either way the image must open with instar's own vmdk reader and read
// back exactly what was written.
#include <cstring>

#include "writer_round_trip.h"

namespace {

namespace abi = instar::abi;
namespace fuzz = instar::fuzz;

constexpr uint64_t kMaxSize = 4u << 20;
constexpr fuzz::RoundTripLimits kLimits{64u << 20, 2u << 20, 64};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::InputBytes in(data, size);
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::vmdk);
    const uint8_t shape = in.next();
    req.flags = abi::kCreateHasSize | (shape & 4 ? abi::kCreateZeroedGrain : 0);
    req.vmdk_subformat =
        uint32_t(shape & 1 ? abi::VmdkSubformat::stream_optimized : abi::VmdkSubformat::monolithic_sparse);
    req.grain_size = 4096u << (in.next() % 5);
    req.size = (uint64_t(in.next()) << 16 | uint64_t(in.next()) << 8) % kMaxSize / 512 * 512 + 512;
    for (size_t i = 0; i < 8; ++i) req.entropy[i] = in.next();  // both CIDs
    std::memcpy(req.image_name, "f.vmdk", 7);
    fuzz::check_writer_round_trip(req, in, kLimits, (shape & 2) != 0);
    return 0;
}
