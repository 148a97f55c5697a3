// The raw block reader: the file is the disk, in whole sectors.
#include <gtest/gtest.h>

#include <vector>

#include "block_reader_support.h"
#include "qcow2_test_util.h"

namespace instar::testing::block {
namespace {

TEST(BlockRaw, FileIsTheDiskInWholeSectors) {
    testing::qcow2::TempDir dir;
    std::vector<uint8_t> bytes(3000);  // not a whole number of sectors
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = uint8_t(i * 7 + 1);
    ASSERT_TRUE(write_file(dir.file("a.raw"), bytes));
    Chain c = open_chain({{dir.file("a.raw"), abi::Format::raw}});
    ASSERT_EQ(c.status, formats::kOk);
    BlockReader& r = c.top();
    EXPECT_EQ(r.virtual_size(), 3072u);

    // The file is data; the padding of its last sector zeroes, as qemu
    // maps them.
    BlockStatus s;
    ASSERT_EQ(r.block_status(100, 1 << 20, s), formats::kOk);
    EXPECT_EQ(s.kind, BlockKind::data);
    EXPECT_EQ(s.bytes, 3000u - 100);
    EXPECT_TRUE(s.has_host_offset);
    EXPECT_EQ(s.host_offset, 100u);
    ASSERT_EQ(r.block_status(0, 512, s), formats::kOk);
    EXPECT_EQ(s.bytes, 512u);
    ASSERT_EQ(r.block_status(3000, 1 << 20, s), formats::kOk);
    EXPECT_EQ(s.kind, BlockKind::zero);
    EXPECT_EQ(s.bytes, 72u);
    EXPECT_TRUE(s.has_host_offset);
    EXPECT_EQ(s.host_offset, 3000u);

    // The padding reads as zeroes, without a read past the file's end
    // (which the file refuses).
    std::vector<uint8_t> got;
    ASSERT_EQ(read_all(r, got, 1000), formats::kOk);
    bytes.resize(3072, 0);
    EXPECT_TRUE(got == bytes);

    // Nothing outside the disk.
    uint8_t b[2];
    EXPECT_EQ(r.block_status(3072, 1, s), Status::internal);
    EXPECT_EQ(r.block_status(0, 0, s), Status::internal);
    EXPECT_EQ(r.read(3071, b, 2), Status::internal);
    EXPECT_EQ(r.read(3072, b, 0), formats::kOk);
}

TEST(BlockRaw, RefusesBackingAndDataFile) {
    testing::qcow2::TempDir dir;
    ASSERT_TRUE(write_file(dir.file("a.raw"), std::vector<uint8_t>(512, 1)));
    FileSource src(dir.file("a.raw"));
    std::vector<uint8_t> mem(1 << 16);
    formats::Arena arena(mem.data(), mem.size());
    BlockReader* below = nullptr;
    const formats::FormatDriver* raw = formats::format_driver(abi::Format::raw);
    ASSERT_EQ(raw->open_reader({src, arena, nullptr, nullptr}, below), formats::kOk);
    BlockReader* r = nullptr;
    EXPECT_EQ(raw->open_reader({src, arena, below, nullptr}, r), Status::invalid_option);
    EXPECT_EQ(raw->open_reader({src, arena, nullptr, &src}, r), Status::invalid_option);
}

TEST(BlockRaw, EveryFormatHasAReader) {
    EXPECT_NE(formats::format_driver(abi::Format::raw)->open_reader, nullptr);
    EXPECT_NE(formats::format_driver(abi::Format::qcow2)->open_reader, nullptr);
    EXPECT_NE(formats::format_driver(abi::Format::vpc)->open_reader, nullptr);
    EXPECT_NE(formats::format_driver(abi::Format::vhdx)->open_reader, nullptr);
    EXPECT_NE(formats::format_driver(abi::Format::vmdk)->open_reader, nullptr);
}

}  // namespace
}  // namespace instar::testing::block
