// convert -l: the qcow2 reader on an internal snapshot's L1 table. The
// content against qemu-img is the integration suite's (test_convert.py);
// here, what the reader refuses: an index past the table, a snapshot
// whose L1 table qcow2_validate_table refuses, and a snapshot asked of a
// format without any.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "block_reader_support.h"
#include "memory_image.h"
#include "formats/common/endian.h"
#include "formats/format_driver.h"
#include "formats/qcow2/qcow2_layout.h"
#include "qcow2_info_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::make_image;
using testing::qcow2::TempDir;
namespace q = formats::qcow2;

// The first snapshot entry's offset in the file.
uint64_t first_entry(const std::vector<uint8_t>& b) { return formats::load_be64(b.data() + 64); }

formats::Status open_snapshot(const std::vector<uint8_t>& bytes, uint32_t index, abi::Format format = abi::Format::qcow2) {
    MemorySource src(bytes);
    std::vector<uint8_t> mem(8u << 20);
    formats::Arena arena(mem.data(), mem.size());
    formats::ReaderOpenParams p{src, arena, nullptr, nullptr};
    p.snapshot = index;
    BlockReader* r = nullptr;
    return formats::format_driver(format)->open_reader(p, r);
}

TEST(BlockQcow2Snapshot, ReadsTheSnapshotsL1Table) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 img.qcow2 4M && $QIO -c 'write -P 5 0 64k' img.qcow2 && "
                                "$QI snapshot -c s img.qcow2 && $QIO -c 'write -P 6 0 64k' img.qcow2"));
    const std::vector<uint8_t> bytes = read_file(dir.file("img.qcow2"));
    MemorySource src(bytes);
    std::vector<uint8_t> mem(8u << 20);
    formats::Arena arena(mem.data(), mem.size());
    for (uint32_t index : {formats::ReaderOpenParams::kActiveImage, 0u}) {
        formats::ReaderOpenParams p{src, arena, nullptr, nullptr};
        p.snapshot = index;
        BlockReader* r = nullptr;
        ASSERT_EQ(formats::format_driver(abi::Format::qcow2)->open_reader(p, r), formats::kOk);
        uint8_t got[512];
        ASSERT_EQ(r->read(0, got, sizeof got), formats::kOk);
        EXPECT_EQ(got[0], index == 0 ? 5 : 6);
    }
    EXPECT_EQ(open_snapshot(bytes, 1), formats::Status::invalid_option);  // one snapshot only

    // qcow2_validate_table: an L1 table not on a cluster boundary, or
    // larger than QCOW_MAX_L1_SIZE.
    std::vector<uint8_t> bad = bytes;
    formats::store_be64(bad.data() + first_entry(bad) + q::kSnapL1TableOffset,
                        formats::load_be64(bad.data() + first_entry(bad) + q::kSnapL1TableOffset) + 512);
    EXPECT_EQ(open_snapshot(bad, 0), formats::Status::image_invalid);
    bad = bytes;
    formats::store_be32(bad.data() + first_entry(bad) + q::kSnapL1Size, uint32_t(q::kMaxL1Bytes / 8 + 1));
    EXPECT_EQ(open_snapshot(bad, 0), formats::Status::image_invalid);
}

TEST(BlockQcow2Snapshot, OtherFormatsHaveNone) {
    const std::vector<uint8_t> raw(1u << 20, 0);
    EXPECT_EQ(open_snapshot(raw, 0, abi::Format::raw), formats::Status::invalid_option);
}

}  // namespace
}  // namespace instar::testing::block
