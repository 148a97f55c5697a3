// The vpc writer (convert -O vpc): data in guest order reads back through
// instar's vpc reader, dynamic blocks sit in allocation order behind the
// BAT with the footer behind the last, and a fixed image is its disk and
// footer. Byte identity with qemu-img: tests/integration/test_convert_vpc.py.
#include <gtest/gtest.h>

#include "formats/common/endian.h"
#include "formats/vpc/vpc_layout.h"
#include "writer_round_trip.h"

namespace instar::testing {
namespace {

namespace vpc = formats::vpc;

abi::CreateRequest vpc_request(uint64_t size, bool fixed, uint32_t block_size = vpc::kDefaultBlockSize) {
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::vpc);
    req.flags = abi::kCreateHasSize;
    req.size = size;
    req.vpc_subformat = uint32_t(fixed ? abi::VpcSubformat::fixed : abi::VpcSubformat::dynamic);
    req.vpc_block_size = block_size;
    return req;
}

struct Case {
    const char* name;
    uint64_t size;
    bool fixed;
    uint32_t block_size;
};

class VpcWriter : public ::testing::TestWithParam<Case> {};

TEST_P(VpcWriter, ReadsBackWhatWasWritten) {
    const Case& c = GetParam();
    for (uint32_t seed = 1; seed <= 3; ++seed) {
        const Runs runs = write_pattern(c.size, c.block_size, seed);
        const WrittenImage img = write_image(vpc_request(c.size, c.fixed, c.block_size), c.size, runs, seed);
        ASSERT_FALSE(img.file.empty());
        expect_reads_back(abi::Format::vpc, img);
        // The footer ends the file, whatever was written.
        ASSERT_EQ(std::memcmp(img.file.data() + img.file.size() - vpc::kFooterSize, vpc::kFooterCookie, 8), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Layouts, VpcWriter,
                         ::testing::Values(Case{"dynamic", 16u << 20, false, vpc::kDefaultBlockSize},
                                           Case{"dynamic_odd_size", (9u << 20) + 7 * 512, false, vpc::kDefaultBlockSize},
                                           Case{"dynamic_small_blocks", 8u << 20, false, vpc::kMinBlockSize},
                                           Case{"fixed", 6u << 20, true, vpc::kDefaultBlockSize}),
                         [](const auto& info) { return std::string(info.param.name); });

// Blocks in the order of their first write, each a bitmap of ones and the
// data, the BAT pointing at them, the footer behind the last one.
TEST(VpcWriterLayout, BlocksInOrderOfFirstWrite) {
    const uint64_t size = 16u << 20;
    const uint64_t block = vpc::kDefaultBlockSize;
    const uint64_t bitmap = vpc::block_bitmap_bytes(block);
    const Runs runs = {{1 * block + 512, 512}, {3 * block, 2 * block}, {7 * block + block / 2, 4096}};
    const WrittenImage img = write_image(vpc_request(size, false), size, runs, 7);
    ASSERT_FALSE(img.file.empty());
    const uint64_t entries = img.virtual_size / block + (img.virtual_size % block != 0);
    const uint64_t data_start = vpc::kBatOffset + (entries * 4 + 511) / 512 * 512;
    const uint32_t expected[] = {vpc::kBatUnallocated, 0, vpc::kBatUnallocated, 1, 2, vpc::kBatUnallocated,
                                 vpc::kBatUnallocated, 3};
    for (uint64_t i = 0; i < 8; ++i) {
        const uint32_t entry = formats::load_be32(img.file.data() + vpc::kBatOffset + i * 4);
        if (expected[i] == vpc::kBatUnallocated) {
            EXPECT_EQ(entry, vpc::kBatUnallocated) << i;
            continue;
        }
        const uint64_t at = data_start + expected[i] * (bitmap + block);
        EXPECT_EQ(entry, at / 512) << i;
        for (uint64_t b = 0; b < bitmap; ++b) ASSERT_EQ(img.file[at + b], 0xff);
    }
    EXPECT_EQ(img.file.size(), data_start + 4 * (bitmap + block) + vpc::kFooterSize);
    expect_reads_back(abi::Format::vpc, img);
}

// A dynamic image of `size` opened for writing in memory.
struct OpenVpc {
    std::vector<uint8_t> scratch = std::vector<uint8_t>(1u << 20);
    formats::Arena arena{scratch.data(), scratch.size()};
    MemorySink sink;
    formats::ImageWriter* w = nullptr;
    formats::Status open(uint64_t size, bool compress) {
        return formats::format_driver(abi::Format::vpc)
            ->open_writer({vpc_request(size, false), size, sink, arena, compress}, w);
    }
};

TEST(VpcWriterOpen, RefusesCompression) {
    OpenVpc v;
    EXPECT_EQ(v.open(1u << 20, true), formats::Status::unsupported_feature);
}

// A write outside the disk is the caller's bug: refused, nothing written.
TEST(VpcWriterOpen, RefusesWritesOutsideTheDisk) {
    OpenVpc v;
    ASSERT_EQ(v.open(4u << 20, false), formats::kOk);
    std::vector<uint8_t> data(4096, 1);
    EXPECT_EQ(v.w->write(v.w->virtual_size(), data.data(), 512), formats::Status::internal);
    EXPECT_EQ(v.w->write(v.w->virtual_size() - 512, data.data(), 1024), formats::Status::internal);
    EXPECT_EQ(v.w->write(100, data.data(), 512), formats::Status::internal);
}

}  // namespace
}  // namespace instar::testing
