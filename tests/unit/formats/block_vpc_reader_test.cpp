// The vpc block reader on images qemu-img and qemu-io made (and a few with
// block sizes only instar's emitter makes, written by qemu-io): every byte
// read equals `qemu-img convert -O raw` of the same image, and block status
// agrees with `qemu-img map --output=json` (the offsets included), each
// with qemu told the format (a fixed VHD has no signature qemu probes).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "abi/ops/create.h"
#include "block_vpc_vhdx_support.h"
#include "formats/vpc/vpc_checksum.h"
#include "formats/vpc/vpc_create.h"
#include "formats/vpc/vpc_layout.h"
#include "memory_image.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::get32;
using testing::qcow2::make_image;
using testing::qcow2::set32;
using testing::qcow2::set64;

constexpr uint64_t kMiB = 1 << 20;

// Sets E to img.vhd's virtual size as qemu sees it (CHS rounding and
// force_size decide it).
const char* kSize =
    "E=$($QI info -f vpc --output=json img.vhd | sed -n 's/.*\"virtual-size\": \\([0-9]*\\).*/\\1/p') && ";

// Writes of every kind into a disk of at least 16 MiB: data at the start,
// inside a block and over a block boundary, zero writes (qemu's vpc driver
// has none of its own: they write zeroes, allocating the block), data in
// the last 4 KiB.
std::string writes() {
    const std::vector<std::string> cmds = {"write -P 0x5a 0 300k",
                                           "write -P 0xa5 3M 3k",
                                           "write -z 8M 2M",
                                           "write -z 13M 4k",
                                           "write -P 0x11 10M 64k",
                                           "write -P 0x77 12287k 2M",
                                           "write -P 0x33 $((E - 4096)) 4k"};
    std::string out = std::string(kSize) + "$QIO -f vpc";
    for (const std::string& c : cmds) out += " -c \"" + c + "\"";
    return out + " img.vhd >/dev/null";
}

// Fills the whole disk first, so the file has no holes (qemu's map shows a
// file's holes as zeroes, which only the host can know).
std::string fill() { return std::string(kSize) + "$QIO -f vpc -c \"write -P 0xee 0 $E\" img.vhd >/dev/null"; }

struct VpcCase {
    const char* name;
    std::string script;  // makes img.vhd in a fresh directory
};

std::vector<VpcCase> cases() {
    return {
        {"dynamic_64M", "$QI create -q -f vpc img.vhd 64M && " + writes()},
        // CHS rounds the size up; force_size keeps it (in whole sectors).
        {"dynamic_odd_chs", "$QI create -q -f vpc img.vhd 20000000 && " + writes()},
        {"dynamic_force_size", "$QI create -q -f vpc -o force_size=on img.vhd 20000000 && " + writes()},
        // Fixed: the file is the disk.
        {"fixed_16M", "$QI create -q -f vpc -o subformat=fixed img.vhd 16M && " + fill() + " && " + writes()},
        {"fixed_odd_chs", "$QI create -q -f vpc -o subformat=fixed img.vhd 20000000 && " + fill() + " && " + writes()},
        {"fixed_force_size",
         "$QI create -q -f vpc -o subformat=fixed,force_size=on img.vhd 20000000 && " + fill() + " && " + writes()},
    };
}

class BlockVpcImages : public ::testing::TestWithParam<VpcCase> {};

TEST_P(BlockVpcImages, ReadsAndMapsAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, GetParam().script));
    expect_like_qemu(dir, dir.file("img.vhd"), abi::Format::vpc, "vpc");
}

INSTANTIATE_TEST_SUITE_P(BlockImages, BlockVpcImages, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<VpcCase>& info) { return info.param.name; });

// A dynamic image of `size` bytes and blocks of `block` bytes, as instar's
// emitter writes it (qemu-img 7.2 only makes 2 MiB blocks; qemu reads and
// writes any power of two).
bool emit_dynamic(const std::string& path, uint64_t size, uint32_t block) {
    abi::CreateRequest r = vv::base_request(abi::Format::vpc, size);
    r.vpc_subformat = uint32_t(abi::VpcSubformat::dynamic);
    r.vpc_block_size = block;
    Scratch scratch;
    formats::EmitInput in{&r, r.size, false, 0};
    formats::EmitOutput out{};
    vv::SparseSink sink;
    return formats::vpc_emit(in, sink, scratch.arena, out) == formats::kOk && sink.save(path);
}

TEST(BlockVpcBlockSizes, ReadsAndMapsAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    for (uint32_t block : {512u << 10, 1u << 20, 16u << 20, 256u << 20}) {
        SCOPED_TRACE("block size " + std::to_string(block));
        TempDir dir;
        ASSERT_TRUE(emit_dynamic(dir.file("img.vhd"), 64 * kMiB, block));
        ASSERT_TRUE(make_image(dir, writes()));
        expect_like_qemu(dir, dir.file("img.vhd"), abi::Format::vpc, "vpc");
    }
}

// ---- footers qemu-img does not write, which qemu reads all the same

constexpr size_t kFooterSize = formats::vpc::kFooterSize;

// Applies `change` to each footer of the file (the copy at 0 of a dynamic
// image, and the one in the last sector) and recomputes its checksum.
void patch_footers(std::vector<uint8_t>& b, const std::function<void(uint8_t*)>& change) {
    for (size_t at : {size_t(0), b.size() - kFooterSize}) {
        uint8_t* f = b.data() + at;
        if (std::memcmp(f, formats::vpc::kFooterCookie, 8) != 0) continue;
        change(f);
        formats::store_be32(f + formats::vpc::kFtChecksum,
                            formats::vpc::vhd_checksum(f, kFooterSize, formats::vpc::kFtChecksum));
    }
}

struct FooterCase {
    const char* name;
    std::string script;
    std::function<void(uint8_t*)> change;
};

std::vector<FooterCase> footer_cases() {
    const std::string dynamic = "$QI create -q -f vpc img.vhd 32M && " + writes();
    const std::string fixed = "$QI create -q -f vpc -o subformat=fixed img.vhd 8M && " + fill();
    auto type = [](uint32_t t) { return [t](uint8_t* f) { formats::store_be32(f + formats::vpc::kFtDiskType, t); }; };
    // Hyper-V's creator: qemu sizes the disk by current_size.
    auto hyperv = [](uint64_t size) {
        return [size](uint8_t* f) {
            std::memcpy(f + formats::vpc::kFtCreatorApp, "win ", 4);
            formats::store_be64(f + formats::vpc::kFtCurrentSize, size);
        };
    };
    return {
        // qemu reads a differencing image as a dynamic one, parent ignored.
        {"differencing", dynamic, type(4)},
        // An unknown type reads as dynamic too.
        {"unknown_type", dynamic, type(7)},
        // A dynamic layout whose footer says fixed: qemu opens the layout,
        // then reads the file at the disk's offsets (a disk inside the file
        // here: past it see BlockVpcFixed.PastTheFileReadsZeroes).
        {"dynamic_layout_fixed_type", dynamic,
         [](uint8_t* f) {
             formats::store_be32(f + formats::vpc::kFtDiskType, formats::vpc::kDiskTypeFixed);
             std::memcpy(f + formats::vpc::kFtCreatorApp, "win ", 4);
             formats::store_be64(f + formats::vpc::kFtCurrentSize, 8 * kMiB);
         }},
        {"hyperv_smaller", dynamic, hyperv(20 * kMiB + 512)},
        {"hyperv_fixed_smaller", fixed, hyperv(5 * kMiB)},
    };
}

class BlockVpcFooters : public ::testing::TestWithParam<FooterCase> {};

TEST_P(BlockVpcFooters, ReadsAndMapsAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, GetParam().script));
    const std::string img = dir.file("img.vhd");
    std::vector<uint8_t> b = read_file(img);
    patch_footers(b, GetParam().change);
    ASSERT_TRUE(write_file(img, b));
    expect_like_qemu(dir, img, abi::Format::vpc, "vpc");
}

INSTANTIATE_TEST_SUITE_P(BlockFooters, BlockVpcFooters, ::testing::ValuesIn(footer_cases()),
                         [](const ::testing::TestParamInfo<FooterCase>& info) { return info.param.name; });

// A fixed disk whose footer claims more than the file holds: qemu reads
// zeroes past the file, and its map shows them as data and zero at their
// offset (the file layer's answer beyond its end). A reader has one kind a
// run: zero, at the same offset.
TEST(BlockVpcFixed, PastTheFileReadsZeroes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f vpc -o subformat=fixed img.vhd 8M && " + fill()));
    const std::string img = dir.file("img.vhd");
    std::vector<uint8_t> b = read_file(img);
    const uint64_t file = b.size();
    patch_footers(b, [](uint8_t* f) {
        std::memcpy(f + formats::vpc::kFtCreatorApp, "win ", 4);
        formats::store_be64(f + formats::vpc::kFtCurrentSize, 12 * kMiB);
    });
    ASSERT_TRUE(write_file(img, b));

    Chain c = open_chain({{img, abi::Format::vpc}});
    ASSERT_EQ(c.status, formats::kOk);
    ASSERT_EQ(c.top().virtual_size(), 12 * kMiB);
    std::vector<uint8_t> expected, got;
    ASSERT_TRUE(qemu_convert_raw(forced(img, "vpc"), dir.file("out.raw"), expected));
    ASSERT_EQ(read_all(c.top(), got), formats::kOk);
    EXPECT_TRUE(got == expected);

    const std::vector<MapEntry> map = qemu_map(forced(img, "vpc"));
    ASSERT_EQ(map.size(), 2u);
    EXPECT_EQ(map[1].start, file);
    EXPECT_TRUE(map[1].data && map[1].zero && map[1].has_offset);
    BlockStatus s;
    ASSERT_EQ(c.top().block_status(0, 12 * kMiB, s), formats::kOk);
    EXPECT_EQ(s.bytes, file);  // the footer is disk too: qemu reads it as such
    EXPECT_EQ(s.kind, BlockKind::data);
    ASSERT_EQ(c.top().block_status(file, 12 * kMiB - file, s), formats::kOk);
    EXPECT_EQ(s.bytes, 12 * kMiB - file);
    EXPECT_EQ(s.kind, BlockKind::zero);
    EXPECT_TRUE(s.has_host_offset);
    EXPECT_EQ(s.host_offset, map[1].offset);
}

// qemu's vpc driver has no backing file; nor a data file.
TEST(BlockVpcOpen, RefusesBackingAndDataFile) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f vpc img.vhd 4M"));
    FileSource src(dir.file("img.vhd"));
    std::vector<uint8_t> mem(1 << 20);
    formats::Arena arena(mem.data(), mem.size());
    const formats::FormatDriver* vpc = formats::format_driver(abi::Format::vpc);
    BlockReader* below = nullptr;
    ASSERT_EQ(vpc->open_reader({src, arena, nullptr, nullptr}, below), formats::kOk);
    BlockReader* r = nullptr;
    EXPECT_EQ(vpc->open_reader({src, arena, below, nullptr}, r), Status::invalid_option);
    EXPECT_EQ(vpc->open_reader({src, arena, nullptr, &src}, r), Status::invalid_option);
}

// The largest disk qemu makes (2040 GiB, a 4 MiB BAT; past what the CHS
// geometry holds, so sized by current_size): block status walks
// it in a handful of answers, reads the BAT in windows once, and holds
// 64 KiB of it whatever the disk.
TEST(BlockVpcLarge, LargestDiskWalksQuickly) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir,
                           "$QI create -q -f vpc img.vhd 2040G && $QIO -f vpc -c 'write -P 1 0 64k' "
                           "-c 'write -z 300G 1M' -c 'write -P 2 1000G 3M' -c 'write -P 3 2190433316864 4k' "
                           "img.vhd >/dev/null"));
    const std::string img = dir.file("img.vhd");
    Chain c = open_chain({{img, abi::Format::vpc}});
    ASSERT_EQ(c.status, formats::kOk);
    ASSERT_EQ(c.top().virtual_size(), 2040ull << 30);
    const size_t open_reads = c.layers[0]->file->reads;
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t calls = 0;
    for (uint64_t pos = 0; pos < c.top().virtual_size(); ++calls) {
        BlockStatus s;
        ASSERT_EQ(c.top().block_status(pos, c.top().virtual_size() - pos, s), formats::kOk);
        pos += s.bytes;
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LE(calls, 12u);
    EXPECT_LT(ms, 500.0);
    // 4 MiB of BAT in 16 KiB windows, each read once.
    EXPECT_LE(c.layers[0]->file->reads - open_reads, 256u + 4);
    EXPECT_LT(c.layers[0]->arena->used(), 128u << 10);
    std::printf("[ info ] 2040 GiB vpc: walk %.3f ms in %llu answers\n", ms, (unsigned long long)calls);
    expect_map_matches(c, qemu_map(forced(img, "vpc")));
    // What qemu-io wrote, around each write.
    struct Expect {
        uint64_t at, len;
        uint8_t byte;
    };
    const uint64_t end = c.top().virtual_size();
    for (const Expect& e : std::vector<Expect>{{0, 64 << 10, 1},
                                               {64 << 10, 4096, 0},
                                               {300ull << 30, 1 << 20, 0},
                                               {(1000ull << 30) - 512, 512, 0},
                                               {1000ull << 30, 3 << 20, 2},
                                               {end - 8192, 4096, 0},
                                               {end - 4096, 4096, 3}}) {
        std::vector<uint8_t> buf(e.len, 0xee);
        ASSERT_EQ(c.top().read(e.at, buf.data(), buf.size()), formats::kOk);
        EXPECT_EQ(std::count(buf.begin(), buf.end(), e.byte), long(e.len)) << "at " << e.at;
    }
}

}  // namespace
}  // namespace instar::testing::block
