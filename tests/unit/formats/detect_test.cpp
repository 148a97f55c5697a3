// detect_image (the probe of `create -b`) and read_image_info's raw path:
// the sizes and verdicts qemu-img 7.2 gives for the same bytes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "formats/common/endian.h"
#include "formats/detect.h"
#include "formats/info.h"
#include "formats/vmdk/vmdk_info.h"
#include "memory_image.h"

namespace instar::testing {
namespace {

using formats::Status;

struct Probe {
    Status status;
    formats::DetectedImage found;
};

Probe detect(std::vector<uint8_t> bytes, abi::Format requested) {
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
    for (auto requested : {abi::Format::raw, abi::Format::none}) {
        Probe p = detect(odd_raw(), requested);
        ASSERT_EQ(p.status, formats::kOk);
        EXPECT_EQ(p.found.format, abi::Format::raw);
        EXPECT_EQ(p.found.info.virtual_size, 1024u);
    }
    EXPECT_EQ(detect(std::vector<uint8_t>(1024), abi::Format::raw).found.info.virtual_size, 1024u);
    EXPECT_EQ(detect({}, abi::Format::raw).found.info.virtual_size, 0u);
}

TEST(ReadImageInfo, RawSizeIsWholeSectors) {
    for (auto requested : {abi::Format::raw, abi::Format::none}) {
        MemorySource src(odd_raw());
        std::vector<uint8_t> mem(1 << 20);
        formats::Arena arena(mem.data(), mem.size());
        abi::InfoResult r;
        formats::DiscardRecords records;
        formats::NoVmdkExtentFiles no_extents;
        ASSERT_EQ(formats::read_image_info(src, arena, requested, false, no_extents, records, r), formats::kOk);
        EXPECT_EQ(r.format, uint32_t(abi::Format::raw));
        EXPECT_EQ(r.virtual_size, 1024u);
    }
}

// A file of any size that reads as zeros, without holding it.
class ZeroSource : public formats::ImageSource {
public:
    explicit ZeroSource(uint64_t size) : size_(size) {}
    uint64_t size() const override { return size_; }
    bool read(uint64_t, void* buf, size_t len) override {
        std::memset(buf, 0, len);
        return true;
    }

private:
    uint64_t size_;
};

// qemu's block layer opens no file whose length in whole sectors passes
// INT64_MAX bytes (bdrv_getlength: "File too large"), whatever the format;
// reported as a size, it is one the host refuses (found by fuzz_info_qcow2).
TEST(ReadImageInfo, FilesWithinASectorOf2To63AreRefused) {
    constexpr uint64_t kLargest = uint64_t(INT64_MAX) - 511;  // 2^63 - 512 in whole sectors
    for (uint64_t size : {kLargest, kLargest + 1, uint64_t(INT64_MAX)}) {
        SCOPED_TRACE(size);
        const Status expected = size == kLargest ? formats::kOk : Status::image_invalid;
        for (auto requested : {abi::Format::raw, abi::Format::none}) {
            ZeroSource src(size);
            std::vector<uint8_t> mem(1 << 20);
            formats::Arena arena(mem.data(), mem.size());
            abi::InfoResult r;
            formats::DiscardRecords records;
            formats::NoVmdkExtentFiles no_extents;
            EXPECT_EQ(formats::read_image_info(src, arena, requested, true, no_extents, records, r), expected);
            if (expected == formats::kOk) {
                EXPECT_EQ(r.virtual_size, kLargest);
            }
            formats::DetectedImage found{};
            EXPECT_EQ(formats::detect_image(src, arena, requested, found), expected);
            if (expected == formats::kOk) {
                EXPECT_EQ(found.info.virtual_size, kLargest);
            }
        }
    }
}

// A fixed VHD: 1 MiB of data, then its only footer (VHD specification:
// cookie, features, version, data offset all ones, creator "qem2" so the
// size field counts, geometry, disk type 2, checksum).
std::vector<uint8_t> fixed_vpc() {
    std::vector<uint8_t> d((1 << 20) + 512, 0);
    uint8_t* f = d.data() + (1 << 20);
    std::memcpy(f, "conectix", 8);
    formats::store_be32(f + 8, 2);
    formats::store_be32(f + 12, 0x10000);
    formats::store_be64(f + 16, UINT64_MAX);
    std::memcpy(f + 28, "qem2", 4);
    formats::store_be64(f + 40, 1 << 20);
    formats::store_be64(f + 48, 1 << 20);
    formats::store_be16(f + 56, 20);
    f[58] = 16;
    f[59] = 63;
    formats::store_be32(f + 60, 2);
    uint32_t sum = 0;
    for (int i = 0; i < 512; ++i) sum += f[i];
    formats::store_be32(f + 64, ~sum);
    return d;
}

// qemu-img create -b fixed.vhd -F vpc opens it; without -F qemu's probe
// takes it for raw (its footer is not at the start).
TEST(Detect, FixedVpcByName) {
    Probe p = detect(fixed_vpc(), abi::Format::vpc);
    ASSERT_EQ(p.status, formats::kOk);
    EXPECT_EQ(p.found.format, abi::Format::vpc);
    EXPECT_EQ(p.found.info.virtual_size, uint64_t(1) << 20);

    p = detect(fixed_vpc(), abi::Format::none);
    ASSERT_EQ(p.status, formats::kOk);
    EXPECT_EQ(p.found.format, abi::Format::raw);

    EXPECT_EQ(detect(fixed_vpc(), abi::Format::qcow2).status, Status::image_format_mismatch);
    EXPECT_EQ(detect(odd_raw(), abi::Format::vpc).status, Status::image_format_mismatch);
    std::vector<uint8_t> bad = fixed_vpc();
    bad[(1 << 20) + 64] ^= 1;  // checksum
    EXPECT_EQ(detect(bad, abi::Format::vpc).status, Status::image_format_mismatch);
}

}  // namespace
}  // namespace instar::testing
