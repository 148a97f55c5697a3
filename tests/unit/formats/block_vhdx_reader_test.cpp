// The vhdx block reader on images qemu-img and qemu-io made: every byte
// read equals `qemu-img convert -O raw` of the same image (or of a window
// of it, for disks too large to convert whole), and block status agrees
// with `qemu-img map --output=json`, which for vhdx is one data entry
// without offsets (qemu 7.2's vhdx driver has no block status). Then the
// BAT entry states qemu-img does not write, set by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "block_vpc_vhdx_support.h"
#include "formats/common/endian.h"
#include "formats/vhdx/vhdx_bat.h"
#include "formats/vhdx/vhdx_layout.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::make_image;
namespace vhdx = formats::vhdx;

constexpr uint64_t kMiB = 1 << 20;

// Sets E to img.vhdx's virtual size.
const char* kSize =
    "E=$($QI info -f vhdx --output=json img.vhdx | sed -n 's/.*\"virtual-size\": \\([0-9]*\\).*/\\1/p') && ";

// Writes of every kind into a disk of at least 16 MiB: data at the start,
// inside a block and across block boundaries (1 MiB and 8 MiB blocks),
// zero writes (qemu's vhdx driver has none of its own: they write zeroes,
// making the block present), data in the last 4 KiB.
std::string writes() {
    const std::vector<std::string> cmds = {
        "write -P 0x5a 0 300k", "write -P 0xa5 3M 3k",   "write -P 0x78 7M 2M",     "write -z 9M 2M",
        "write -z 13M 4k",      "write -P 0x11 10M 64k", "write -P 0x77 12287k 2M", "write -P 0x33 $((E - 4096)) 4k"};
    std::string out = std::string(kSize) + "$QIO -f vhdx";
    for (const std::string& c : cmds) out += " -c \"" + c + "\"";
    return out + " img.vhdx >/dev/null";
}

struct VhdxCase {
    const char* name;
    std::string script;  // makes img.vhdx in a fresh directory
};

std::vector<VhdxCase> cases() {
    return {
        // qemu's default: 8 MiB blocks, blocks never written are ZERO.
        {"dynamic_64M", "$QI create -q -f vhdx img.vhdx 64M && " + writes()},
        {"dynamic_not_present", "$QI create -q -f vhdx -o block_state_zero=off img.vhdx 64M && " + writes()},
        {"dynamic_1M_blocks", "$QI create -q -f vhdx -o block_size=1M img.vhdx 24M && " + writes()},
        {"dynamic_256M_blocks", "$QI create -q -f vhdx -o block_size=256M img.vhdx 300M && " + writes()},
        // Not a whole number of blocks (nor of MiB): the last block is cut.
        {"dynamic_odd_size", "$QI create -q -f vhdx img.vhdx 20000000 && " + writes()},
        {"dynamic_log_8M", "$QI create -q -f vhdx -o log_size=8M,block_size=2M img.vhdx 40M && " + writes()},
        // Fixed: every block in the file, ZERO (qemu's default) or fully
        // present until written.
        {"fixed_zero_state", "$QI create -q -f vhdx -o subformat=fixed img.vhdx 32M && " + writes()},
        {"fixed_present",
         "$QI create -q -f vhdx -o subformat=fixed,block_state_zero=off,block_size=1M img.vhdx 20000000 && " +
             writes()},
        {"converted", "head -c 17000000 /dev/urandom > in.raw && $QI convert -O vhdx in.raw img.vhdx && " + writes()},
    };
}

class BlockVhdxImages : public ::testing::TestWithParam<VhdxCase> {};

TEST_P(BlockVhdxImages, ReadsAndMapsAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, GetParam().script));
    expect_like_qemu(dir, dir.file("img.vhdx"), abi::Format::vhdx, "vhdx");
}

INSTANTIATE_TEST_SUITE_P(BlockImages, BlockVhdxImages, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<VhdxCase>& info) { return info.param.name; });

// ---- the BAT, by hand

// Where the BAT region of a qemu-made image starts (region table 1).
uint64_t bat_offset(const std::vector<uint8_t>& b) {
    const uint8_t* rt = b.data() + vhdx::kRegionTable1Offset;
    const uint32_t n = formats::load_le32(rt + vhdx::kRtEntryCount);
    for (uint32_t i = 0; i < n; ++i) {
        const uint8_t* e = rt + vhdx::kRtHeaderSize + i * vhdx::kRtEntrySize;
        if (std::memcmp(e + vhdx::kReGuid, vhdx::kBatRegionGuid, vhdx::kGuidSize) == 0) {
            return formats::load_le64(e + vhdx::kReFileOffset);
        }
    }
    ADD_FAILURE() << "no BAT region";
    return 0;
}

uint64_t get_entry(const std::vector<uint8_t>& b, uint64_t index) {
    return formats::load_le64(b.data() + bat_offset(b) + index * vhdx::kBatEntrySize);
}
void set_entry(std::vector<uint8_t>& b, uint64_t index, uint64_t entry) {
    formats::store_le64(b.data() + bat_offset(b) + index * vhdx::kBatEntrySize, entry);
}
void set_state(std::vector<uint8_t>& b, uint64_t index, uint64_t state) {
    set_entry(b, index, (get_entry(b, index) & ~vhdx::kBatStateMask) | state);
}

// 8 MiB of 1 MiB blocks, each written with its own pattern: all fully
// present, in the file from 4 MiB on (the BAT, 1 MiB at 2 MiB, is all we
// patch; qemu does not checksum it).
const char* kEightBlocks =
    "$QI create -q -f vhdx -o block_size=1M,block_state_zero=off img.vhdx 8M && $QIO -f vhdx "
    "-c 'write -P 1 0 1M' -c 'write -P 2 1M 1M' -c 'write -P 3 2M 1M' -c 'write -P 4 3M 1M' "
    "-c 'write -P 5 4M 1M' -c 'write -P 6 5M 1M' -c 'write -P 7 6M 1M' -c 'write -P 8 7M 1M' "
    "img.vhdx >/dev/null";

struct StateCase {
    const char* name;
    std::function<void(std::vector<uint8_t>&)> apply;
    // kOk: qemu-img convert succeeds and we read what it reads;
    // otherwise it fails, and so does our read of the disk (with this).
    Status expected;
};

std::vector<StateCase> state_cases() {
    auto state = [](uint64_t s) { return [s](std::vector<uint8_t>& b) { set_state(b, 2, s); }; };
    return {
        // Every state that reads as zeroes, offset left in place.
        {"not_present", state(vhdx::kBatNotPresent), formats::kOk},
        {"undefined", state(vhdx::kBatUndefined), formats::kOk},
        {"zero", state(vhdx::kBatZero), formats::kOk},
        {"unmapped", state(vhdx::kBatUnmapped), formats::kOk},
        {"unmapped_v095", state(vhdx::kBatUnmappedV095), formats::kOk},
        // "we don't yet support difference files" (EIO), and no state.
        {"partially_present", state(vhdx::kBatPartiallyPresent), Status::image_invalid},
        {"state_4", state(4), Status::image_invalid},
        // Two entries, one block.
        {"shared_block", [](auto& b) { set_entry(b, 5, get_entry(b, 1)); }, formats::kOk},
        // Blocks over the metadata region (the first chunk_ratio blocks
        // are checked against regions at open, so only past them could one
        // be), past the end of the file, or ending past it: refused at open.
        {"block_over_metadata", [](auto& b) { set_entry(b, 4, (3 * kMiB) | vhdx::kBatFullyPresent); },
         Status::image_invalid},
        {"block_past_eof", [](auto& b) { set_entry(b, 4, (1ull << 40) | vhdx::kBatFullyPresent); },
         Status::image_invalid},
        {"file_cut_in_last_block", [](auto& b) { b.resize(b.size() - 4096); }, Status::image_invalid},
        // An entry past the disk's (there are 8 blocks) is never read.
        {"entry_past_disk", [](auto& b) { set_entry(b, 9, (1ull << 40) | vhdx::kBatPartiallyPresent); }, formats::kOk},
    };
}

class BlockVhdxStates : public ::testing::TestWithParam<StateCase> {};

TEST_P(BlockVhdxStates, ReadAsQemuReads) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const StateCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kEightBlocks));
    const std::string img = dir.file("img.vhdx");
    std::vector<uint8_t> b = read_file(img);
    c.apply(b);
    ASSERT_TRUE(write_file(img, b));

    std::vector<uint8_t> expected, got;
    std::string err;
    const bool qemu_ok = qemu_convert_raw(forced(img, "vhdx"), dir.file("out.raw"), expected, &err);
    ASSERT_EQ(qemu_ok, c.expected == formats::kOk) << err;
    if (qemu_ok) {
        expect_like_qemu(dir, img, abi::Format::vhdx, "vhdx");
        return;
    }
    Chain chain = open_chain({{img, abi::Format::vhdx}});
    if (chain.status != formats::kOk) {
        EXPECT_EQ(chain.status, c.expected);
        return;
    }
    // The open succeeds (qemu's map too, which reads no BAT entry); the
    // read of the damaged block fails, and only it.
    EXPECT_EQ(read_all(chain.top(), got), c.expected);
    expect_map_matches(chain, qemu_map(forced(img, "vhdx")));
    std::vector<uint8_t> block(kMiB);
    EXPECT_EQ(chain.top().read(2 * kMiB + 4096, block.data(), 512), c.expected);
    EXPECT_EQ(chain.top().read(kMiB, block.data(), block.size()), formats::kOk);
    EXPECT_EQ(chain.top().read(3 * kMiB, block.data(), block.size()), formats::kOk);
}

INSTANTIATE_TEST_SUITE_P(BlockStates, BlockVhdxStates, ::testing::ValuesIn(state_cases()),
                         [](const ::testing::TestParamInfo<StateCase>& info) { return info.param.name; });

// `qemu-img convert -O raw` of [offset, offset + len) of the disk qemu
// reads (a raw node with an offset and size over the vhdx node).
std::vector<uint8_t> qemu_window(const TempDir& dir, const std::string& img, uint64_t offset, uint64_t len) {
    const std::string name = "json:{\"driver\":\"raw\",\"offset\":" + std::to_string(offset) +
                             ",\"size\":" + std::to_string(len) + ",\"file\":" + forced(img, "vhdx").substr(5) + "}";
    std::vector<uint8_t> out;
    std::string err;
    EXPECT_TRUE(qemu_convert_raw(name, dir.file("window.raw"), out, &err)) << err;
    return out;
}

void expect_window(const TempDir& dir, Chain& c, const std::string& img, uint64_t offset, uint64_t len) {
    const std::vector<uint8_t> expected = qemu_window(dir, img, offset, len);
    std::vector<uint8_t> got(len, 0xee);
    ASSERT_EQ(c.top().read(offset, got.data(), got.size()), formats::kOk);
    EXPECT_TRUE(got == expected) << "window " << offset << "+" << len << " differs from qemu-img convert";
}

// A block at file offset 0 (in the header section, where none can be):
// qemu's vhdx_block_translate then leaves out the offset into the block,
// so a request starting inside the block reads the file from 0, and one
// starting at the block's start reads it in order. qemu-img convert's
// requests start at 2 MiB multiples, so with 1 MiB blocks it reads such a
// block as if its offset were 0; a read from inside it reads from 0 again.
TEST(BlockVhdxStates, BlockAtFileOffsetZero) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kEightBlocks));
    const std::string img = dir.file("img.vhdx");
    std::vector<uint8_t> b = read_file(img);
    set_entry(b, 3, vhdx::kBatFullyPresent);
    ASSERT_TRUE(write_file(img, b));

    Chain c = open_chain({{img, abi::Format::vhdx}});
    ASSERT_EQ(c.status, formats::kOk);
    std::vector<uint8_t> expected, got;
    ASSERT_TRUE(qemu_convert_raw(forced(img, "vhdx"), dir.file("out.raw"), expected));
    ASSERT_EQ(read_all(c.top(), got, 2 * kMiB), formats::kOk);
    EXPECT_TRUE(got == expected) << "content differs from qemu-img convert";
    EXPECT_TRUE(std::equal(b.begin(), b.begin() + long(kMiB), got.begin() + long(3 * kMiB)));
    expect_map_matches(c, qemu_map(forced(img, "vhdx")));

    // From inside the block (qemu through a raw node with an offset).
    const uint64_t inside = 3 * kMiB + 4096;
    std::vector<uint8_t> part(8192);
    ASSERT_EQ(c.top().read(inside, part.data(), part.size()), formats::kOk);
    EXPECT_TRUE(part == qemu_window(dir, img, inside, part.size()));
    EXPECT_TRUE(std::equal(part.begin(), part.end(), b.begin()));
}

// Past chunk_ratio blocks (4096 of 1 MiB), each 4 GiB of disk has a
// sector bitmap entry after its payload entries: block 4096 is entry 4097.
// The bitmap entry is never read (it is made partially present here, which
// would fail any read of it).
TEST(BlockVhdxChunks, SectorBitmapEntriesAreSkipped) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir,
                           "$QI create -q -f vhdx -o block_size=1M img.vhdx 4112M && $QIO -f vhdx "
                           "-c 'write -P 1 0 64k' -c 'write -P 2 4095M 2M' -c 'write -P 3 4111M 1M' "
                           "img.vhdx >/dev/null"));
    const std::string img = dir.file("img.vhdx");
    std::vector<uint8_t> b = read_file(img);
    const vhdx::BatGeometry g = vhdx::bat_geometry(4112 * kMiB, 1 << 20);
    ASSERT_EQ(g.chunk_ratio, 4096u);
    ASSERT_EQ(vhdx::bat_index_of_block(g, 4096), 4097u);
    EXPECT_EQ(get_entry(b, 4096) & vhdx::kBatStateMask, vhdx::kBatNotPresent);
    EXPECT_EQ(get_entry(b, 4097) & vhdx::kBatStateMask, vhdx::kBatFullyPresent);
    set_state(b, 4096, vhdx::kBatPartiallyPresent);
    ASSERT_TRUE(write_file(img, b));

    Chain c = open_chain({{img, abi::Format::vhdx}});
    ASSERT_EQ(c.status, formats::kOk);
    expect_map_matches(c, qemu_map(forced(img, "vhdx")));
    expect_window(dir, c, img, 0, 2 * kMiB);
    expect_window(dir, c, img, 4094 * kMiB, 4 * kMiB);
    expect_window(dir, c, img, 4110 * kMiB, 2 * kMiB);
}

// The largest disk (64 TiB, 64 MiB blocks, a 16 MiB BAT with a bitmap
// entry every 64 blocks): one block status answer, reads of the BAT in
// 16 KiB windows, 64 KiB of it held.
TEST(BlockVhdxLarge, LargestDisk) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir,
                           "$QI create -q -f vhdx img.vhdx 64T && $QIO -f vhdx -c 'write -P 1 0 64k' "
                           "-c 'write -P 2 40T 3M' -c 'write -P 3 70368744173568 4k' img.vhdx >/dev/null"));
    const std::string img = dir.file("img.vhdx");
    Chain c = open_chain({{img, abi::Format::vhdx}});
    ASSERT_EQ(c.status, formats::kOk);
    ASSERT_EQ(c.top().virtual_size(), 64ull << 40);
    BlockStatus s;
    ASSERT_EQ(c.top().block_status(0, 64ull << 40, s), formats::kOk);
    EXPECT_EQ(s.bytes, 64ull << 40);
    expect_map_matches(c, qemu_map(forced(img, "vhdx")));
    const size_t open_reads = c.layers[0]->file->reads;
    expect_window(dir, c, img, 0, 1 * kMiB);
    expect_window(dir, c, img, (40ull << 40) - kMiB, 8 * kMiB);
    expect_window(dir, c, img, (64ull << 40) - 2 * kMiB, 2 * kMiB);
    // A BAT window for each place, and the data.
    EXPECT_LE(c.layers[0]->file->reads - open_reads, 12u);
    EXPECT_LT(c.layers[0]->arena->used(), 128u << 10);
}

// Where the metadata item `guid` of a qemu-made image lies in the file.
uint64_t metadata_item(const std::vector<uint8_t>& b, const uint8_t* guid) {
    const uint8_t* rt = b.data() + vhdx::kRegionTable1Offset;
    uint64_t region = 0;
    for (uint32_t i = 0; i < formats::load_le32(rt + vhdx::kRtEntryCount); ++i) {
        const uint8_t* e = rt + vhdx::kRtHeaderSize + i * vhdx::kRtEntrySize;
        if (std::memcmp(e + vhdx::kReGuid, vhdx::kMetadataRegionGuid, vhdx::kGuidSize) == 0) {
            region = formats::load_le64(e + vhdx::kReFileOffset);
        }
    }
    const uint8_t* table = b.data() + region;
    for (uint32_t i = 0; i < formats::load_le16(table + vhdx::kMtEntryCount); ++i) {
        const uint8_t* e = table + vhdx::kMtHeaderSize + i * vhdx::kMtEntrySize;
        if (std::memcmp(e + vhdx::kMeItemId, guid, vhdx::kGuidSize) == 0) {
            return region + formats::load_le32(e + vhdx::kMeOffset);
        }
    }
    ADD_FAILURE() << "no such metadata item";
    return 0;
}

// A disk of 2^32 + 1 blocks: qemu's 32-bit block count wraps to 1, so its
// open checks one BAT entry, and a block far enough in has its entry past
// the BAT region, where qemu reads beyond its copy of the table (no
// defined answer; qemu-img info opens the image). We read the entries
// inside the region and refuse the others as damage.
TEST(BlockVhdxOpen, WrappedBlockCount) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kEightBlocks));
    const std::string img = dir.file("img.vhdx");
    std::vector<uint8_t> b = read_file(img);
    const uint64_t size = (uint64_t(1) << 52) + kMiB;
    formats::store_le64(b.data() + metadata_item(b, vhdx::kVirtualDiskSizeGuid), size);
    ASSERT_TRUE(write_file(img, b));
    ASSERT_EQ(vv::qemu_info(img, "vhdx").virtual_size, (long long)size);

    Chain c = open_chain({{img, abi::Format::vhdx}});
    ASSERT_EQ(c.status, formats::kOk);
    ASSERT_EQ(c.top().virtual_size(), size);
    std::vector<uint8_t> buf(kMiB);
    ASSERT_EQ(c.top().read(7 * kMiB, buf.data(), buf.size()), formats::kOk);
    EXPECT_EQ(std::count(buf.begin(), buf.end(), 8), long(kMiB));
    // The region holds 131072 entries: block 131040's is the last (a
    // sector bitmap entry follows every 4096 blocks').
    ASSERT_EQ(c.top().read(131040 * kMiB, buf.data(), buf.size()), formats::kOk);
    EXPECT_EQ(c.top().read(131041 * kMiB, buf.data(), buf.size()), Status::image_invalid);
    EXPECT_EQ(c.top().read(size - kMiB, buf.data(), buf.size()), Status::image_invalid);
}

// A log to replay: qemu will not open the image read-only, nor do we
// (the BAT update after the log entry failed, by blkdebug).
TEST(BlockVhdxOpen, LogToReplayRefused) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(
        dir,
        "$QI create -q -f vhdx img.vhdx 8M && $QIO -c 'write -P 0x77 0 64k' "
        "\"json:{\\\"driver\\\":\\\"vhdx\\\",\\\"file\\\":{\\\"driver\\\":\\\"blkdebug\\\","
        "\\\"inject-error\\\":[{\\\"event\\\":\\\"pwritev\\\",\\\"sector\\\":4096,\\\"errno\\\":5}],"
        "\\\"image\\\":{\\\"driver\\\":\\\"file\\\",\\\"filename\\\":\\\"img.vhdx\\\"}}}\" >/dev/null 2>&1; true"));
    const std::string img = dir.file("img.vhdx");
    std::vector<uint8_t> out;
    ASSERT_FALSE(qemu_convert_raw(forced(img, "vhdx"), dir.file("out.raw"), out));
    EXPECT_EQ(open_chain({{img, abi::Format::vhdx}}).status, Status::unsupported_feature);
}

// qemu's vhdx driver has no backing file; nor a data file.
TEST(BlockVhdxOpen, RefusesBackingAndDataFile) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f vhdx img.vhdx 4M"));
    FileSource src(dir.file("img.vhdx"));
    std::vector<uint8_t> mem(1 << 20);
    formats::Arena arena(mem.data(), mem.size());
    const formats::FormatDriver* d = formats::format_driver(abi::Format::vhdx);
    BlockReader* below = nullptr;
    ASSERT_EQ(d->open_reader({src, arena, nullptr, nullptr}, below), formats::kOk);
    BlockReader* r = nullptr;
    EXPECT_EQ(d->open_reader({src, arena, below, nullptr}, r), Status::invalid_option);
    EXPECT_EQ(d->open_reader({src, arena, nullptr, &src}, r), Status::invalid_option);
}

// Bit flips in the headers, region table, metadata and BAT of a small
// image: whatever they make of it, the reader answers every question
// without reading outside the file, and the same way twice. (The
// checksummed structures mostly refuse; the BAT is not checksummed.)
TEST(BlockVhdxDamaged, RandomDamageIsBoundedAndDeterministic) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kEightBlocks));
    const std::vector<uint8_t> base = read_file(dir.file("img.vhdx"));
    const uint64_t bat = bat_offset(base);
    std::mt19937_64 rng(33);
    int opened = 0;
    for (int i = 0; i < 200 && !HasFailure(); ++i) {
        std::vector<uint8_t> b = base;
        const int flips = 1 + int(rng() % 6);
        for (int k = 0; k < flips; ++k) {
            // Mostly the BAT's entries (their states and offsets), some
            // anywhere in the first 4 MiB.
            const size_t at = rng() % 4 == 0 ? rng() % (4 * kMiB) : bat + rng() % 128;
            b[at] ^= uint8_t(1u << (rng() % 8));
            if (rng() % 3 == 0) b[at] = uint8_t(rng());
        }
        if (expect_bounded_and_deterministic(abi::Format::vhdx, b, "case " + std::to_string(i))) ++opened;
    }
    EXPECT_GT(opened, 50);
}

}  // namespace
}  // namespace instar::testing::block
