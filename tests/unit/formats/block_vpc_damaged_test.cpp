// The vpc block reader on damaged copies of qemu-made images: where
// `qemu-img convert -O raw` succeeds we read the same bytes and map as
// `qemu-img map` does, where it fails we fail (qemu's vpc driver checks
// everything at open, so there), and no read ever reaches past the end of
// a file. Then random damage: whatever the bytes, the reader answers every
// question without reading outside the file, and the same way twice.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "block_vpc_vhdx_support.h"
#include "formats/vpc/vpc_checksum.h"
#include "formats/vpc/vpc_layout.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::get32;
using testing::qcow2::make_image;
using testing::qcow2::set32;
using testing::qcow2::set64;
namespace vpc = formats::vpc;

// 8 MiB and 6 KiB (the CHS size), 2 MiB blocks, BAT of 5 entries at 1536:
// block 0 at sector 4 (data 0x11 in its first 64 KiB), block 1 at sector
// 4101 (0x22 at 3M). The footer copy at 0 and the header are what qemu
// reads.
const char* kDynamic =
    "$QI create -q -f vpc img.vhd 8M && "
    "$QIO -f vpc -c 'write -P 0x11 0 64k' -c 'write -P 0x22 3M 64k' img.vhd >/dev/null";
const char* kFixed =
    "$QI create -q -f vpc -o subformat=fixed img.vhd 8M && "
    "$QIO -f vpc -c 'write -P 0x11 0 8390656' img.vhd >/dev/null";

constexpr size_t kHeader = vpc::kDynHeaderOffset;
constexpr size_t kBat = vpc::kBatOffset;
size_t bat_entry(size_t i) { return kBat + 4 * i; }

// The footer copy at 0 with its checksum made right.
void fix_footer_checksum(std::vector<uint8_t>& b, size_t footer = 0) {
    formats::store_be32(b.data() + footer + vpc::kFtChecksum,
                        vpc::vhd_checksum(b.data() + footer, vpc::kFooterSize, vpc::kFtChecksum));
}

void set_all_unallocated(std::vector<uint8_t>& b) {
    for (size_t i = 0; i < 5; ++i) set32(b, bat_entry(i), vpc::kBatUnallocated);
}

struct Damage {
    const char* name;
    const char* base;
    std::function<void(std::vector<uint8_t>&)> apply;
    // kOk: qemu-img convert succeeds and we read and map what it does;
    // otherwise qemu-img fails and our open fails with this.
    Status expected;
};

std::vector<Damage> damages() {
    const Status invalid = Status::image_invalid;
    return {
        // qemu refuses an image whose blocks end past the file ("The image
        // has been truncated").
        {"block_past_eof", kDynamic, [](auto& b) { set32(b, bat_entry(0), 0x100000); }, invalid},
        {"block_ends_past_eof", kDynamic, [](auto& b) { set32(b, bat_entry(1), 0x1007); }, invalid},
        {"file_cut_in_last_block", kDynamic, [](auto& b) { b.resize(b.size() - 4096); }, invalid},
        {"file_cut_in_bat", kDynamic, [](auto& b) { b.resize(1800); }, invalid},
        // Blocks anywhere inside the file read what is there: the footer
        // copy, the header and the BAT, another block's bitmap.
        {"block_over_metadata", kDynamic, [](auto& b) { set32(b, bat_entry(2), 0); }, formats::kOk},
        {"block_over_block", kDynamic, [](auto& b) { set32(b, bat_entry(3), 5); }, formats::kOk},
        {"two_entries_one_block", kDynamic, [](auto& b) { set32(b, bat_entry(1), get32(b, bat_entry(0))); },
         formats::kOk},
        // A BAT past the end of the file: it reads as zeroes, but qemu
        // counts the end of the file from the end of the table.
        {"bat_past_eof", kDynamic, [](auto& b) { set64(b, kHeader + vpc::kDhTableOffset, 1ull << 40); }, invalid},
        // A BAT inside block 1's zeroes: every block at sector 0.
        {"bat_in_zeroes", kDynamic, [](auto& b) { set64(b, kHeader + vpc::kDhTableOffset, b.size() - 1024); },
         formats::kOk},
        // More entries than the disk needs: the BAT runs into block 0,
        // whose bytes make blocks past the end.
        {"bat_longer", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhMaxTableEntries, 1000); }, invalid},
        {"bat_too_short", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhMaxTableEntries, 1); }, invalid},
        {"bat_entries_negative", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhMaxTableEntries, 0x80000000u); },
         invalid},
        // Block sizes: a power of two of at least a sector, whose blocks
        // (and their bitmaps) fit in the file.
        {"block_size_2G_empty", kDynamic,
         [](auto& b) {
             set32(b, kHeader + vpc::kDhBlockSize, 0x80000000u);
             set_all_unallocated(b);
         },
         formats::kOk},
        {"block_size_2G_allocated", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhBlockSize, 0x80000000u); },
         invalid},
        {"block_size_not_power_of_two", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhBlockSize, 3u << 20); },
         invalid},
        {"block_size_zero", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhBlockSize, 0); }, invalid},
        // 512-byte blocks would need 16390 entries.
        {"block_size_sector", kDynamic, [](auto& b) { set32(b, kHeader + vpc::kDhBlockSize, 512); }, invalid},
        // 1 MiB blocks: entry k is the first or second half of a 2 MiB
        // block's data, with a smaller bitmap in front.
        {"block_size_halved", kDynamic,
         [](auto& b) {
             set32(b, kHeader + vpc::kDhBlockSize, 1u << 20);
             set32(b, kHeader + vpc::kDhMaxTableEntries, 9);
             for (size_t i = 5; i < 9; ++i) set32(b, bat_entry(i), vpc::kBatUnallocated);
         },
         formats::kOk},
        {"header_cookie", kDynamic, [](auto& b) { b[kHeader] ^= 1; }, invalid},
        {"header_past_eof", kDynamic,
         [](auto& b) {
             set64(b, vpc::kFtDataOffset, 1ull << 40);
             fix_footer_checksum(b);
         },
         invalid},
        // The header anywhere qemu can read it: here in the last footer's
        // sector, where the cookie is not.
        {"header_moved", kDynamic,
         [](auto& b) {
             set64(b, vpc::kFtDataOffset, b.size() - 512);
             fix_footer_checksum(b);
         },
         invalid},
        {"footer_checksum", kDynamic, [](auto& b) { b[vpc::kFtChecksum] ^= 1; }, invalid},
        // qemu reads the copy at 0 of a dynamic image, never the last one.
        {"last_footer_gone", kDynamic, [](auto& b) { std::fill(b.end() - 512, b.end(), 0); }, formats::kOk},
        // A fixed image without its footer is no VHD.
        {"fixed_cut", kFixed, [](auto& b) { b.resize(b.size() / 2); }, invalid},
        {"fixed_footer_checksum", kFixed, [](auto& b) { b[b.size() - 512 + vpc::kFtChecksum] ^= 1; }, invalid},
    };
}

class BlockVpcDamaged : public ::testing::TestWithParam<Damage> {};

TEST_P(BlockVpcDamaged, FailsWhereQemuFails) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, d.base));
    const std::string img = dir.file("img.vhd");
    std::vector<uint8_t> b = read_file(img);
    d.apply(b);
    ASSERT_TRUE(write_file(img, b));

    std::vector<uint8_t> expected;
    std::string err;
    const bool qemu_ok = qemu_convert_raw(forced(img, "vpc"), dir.file("out.raw"), expected, &err);
    ASSERT_EQ(qemu_ok, d.expected == formats::kOk) << err;
    if (!qemu_ok) {
        EXPECT_EQ(open_chain({{img, abi::Format::vpc}}).status, d.expected);
        return;
    }
    expect_like_qemu(dir, img, abi::Format::vpc, "vpc");
}

INSTANTIATE_TEST_SUITE_P(BlockDamages, BlockVpcDamaged, ::testing::ValuesIn(damages()),
                         [](const ::testing::TestParamInfo<Damage>& info) { return info.param.name; });

// Bit flips in the footer copy, the header and the BAT (and now and then
// anywhere), half the time with the footer's checksum made right again so
// that the damage reaches past it.
TEST(BlockVpcDamaged, RandomDamageIsBoundedAndDeterministic) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    std::vector<std::vector<uint8_t>> bases;
    for (const char* base : {kDynamic, kFixed}) {
        ASSERT_TRUE(make_image(dir, base));
        bases.push_back(read_file(dir.file("img.vhd")));
    }
    std::mt19937_64 rng(21);
    int opened = 0;
    for (int i = 0; i < 300 && !HasFailure(); ++i) {
        std::vector<uint8_t> b = bases[size_t(i) % bases.size()];
        const bool fixed = i % 2 == 1;
        const size_t footer = fixed ? b.size() - vpc::kFooterSize : 0;
        const int flips = 1 + int(rng() % 6);
        for (int k = 0; k < flips; ++k) {
            size_t at = 0;
            switch (rng() % 4) {
            case 0:
                at = rng() % b.size();
                break;
            case 1:
                at = footer + rng() % vpc::kFooterSize;
                break;
            default:
                at = fixed ? footer + rng() % vpc::kFooterSize : rng() % (kBat + 512);
                break;
            }
            b[at] ^= uint8_t(1u << (rng() % 8));
            if (rng() % 3 == 0) b[at] = uint8_t(rng());
        }
        if (rng() % 2) fix_footer_checksum(b, footer);
        if (expect_bounded_and_deterministic(abi::Format::vpc, b, "case " + std::to_string(i))) ++opened;
    }
    EXPECT_GT(opened, 60);
}

}  // namespace
}  // namespace instar::testing::block
