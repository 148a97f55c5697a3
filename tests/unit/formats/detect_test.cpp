// detect_image (the probe of `create -b`) and read_image_info's raw path:
// the sizes and verdicts qemu-img 7.2 gives for the same bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "formats/detect.h"
#include "formats/info.h"
#include "memory_image.h"

namespace instar::testing {
namespace {

using formats::Status;

struct Probe {
    Status status;
    formats::DetectedImage found;
};

Probe detect(std::vector<uint8_t> bytes, abi::BackingFormat requested) {
    MemorySource src(std::move(bytes));
    std::vector<uint8_t> mem(1 << 20);
    formats::Arena arena(mem.data(), mem.size());
    Probe p{};
    p.status = formats::detect_image(src, arena, requested, p.found);
    return p;
}

// A partitioned disk of 1000 bytes: qemu-img info -f raw and create -b
// -F raw both say 1024 (bdrv_getlength counts whole sectors).
std::vector<uint8_t> odd_raw() {
    std::vector<uint8_t> d(1000, 0);
    d[446 + 4] = 0x83;
    d[446 + 8] = 1;
    d[446 + 12] = 1;
    d[510] = 0x55;
    d[511] = 0xaa;
    return d;
}

TEST(Detect, RawSizeIsWholeSectors) {
    for (auto requested : {abi::BackingFormat::raw, abi::BackingFormat::none}) {
        Probe p = detect(odd_raw(), requested);
        ASSERT_EQ(p.status, formats::kOk);
        EXPECT_EQ(p.found.format, abi::BackingFormat::raw);
        EXPECT_EQ(p.found.info.virtual_size, 1024u);
    }
    EXPECT_EQ(detect(std::vector<uint8_t>(1024), abi::BackingFormat::raw).found.info.virtual_size, 1024u);
    EXPECT_EQ(detect({}, abi::BackingFormat::raw).found.info.virtual_size, 0u);
}

TEST(ReadImageInfo, RawSizeIsWholeSectors) {
    for (auto requested : {abi::BackingFormat::raw, abi::BackingFormat::none}) {
        MemorySource src(odd_raw());
        std::vector<uint8_t> mem(1 << 20);
        formats::Arena arena(mem.data(), mem.size());
        abi::InfoResult r;
        ASSERT_EQ(formats::read_image_info(src, arena, requested, false, r), formats::kOk);
        EXPECT_EQ(r.format, uint32_t(abi::BackingFormat::raw));
        EXPECT_EQ(r.virtual_size, 1024u);
    }
}

}  // namespace
}  // namespace instar::testing
