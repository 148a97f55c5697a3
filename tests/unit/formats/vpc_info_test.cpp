// vpc_read_info against `qemu-img info -f vpc --output=json` 7.2, field by
// field: on images qemu-img and qemu-io make (dynamic and fixed, many
// sizes, force_size, converted data, writes), on footers other tools
// write, and on damaged copies, which must be refused exactly where qemu
// refuses them.
#include "formats/vpc/vpc_info.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vpc/vpc_probe.h"
#include "memory_image.h"
#include "vpc_vhdx_info_support.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using namespace vv;
using namespace vv::vhd;
using formats::Status;

constexpr uint64_t MiB = 1 << 20, GiB = 1024 * MiB;
constexpr uint64_t kMaxBytes = 0xff000000ull * 512;

// x.vhd, made by qemu-img create, or converted from patterned raw data.
const ImageKind kVpc{"vpc", "x.vhd", "3M 1M"};

std::string create(const TempDir& dir, const std::string& opts, uint64_t size) { return kVpc.create(dir, opts, size); }

// qemu-img info and vpc_read_info agree: both open the file with the same
// facts, or both refuse it.
void expect_same(const std::string& path, bool qemu_should_open, const std::string& what) {
    expect_info_agreement(formats::vpc_read_info, abi::Format::vpc, "vpc", path, qemu_should_open, what,
                          Status::image_invalid);
}

class VpcInfoOnQemuImages : public ::testing::TestWithParam<Made> {};

TEST_P(VpcInfoOnQemuImages, MatchesQemuImgInfo) {
    INSTAR_REQUIRE_QEMU_IMG();
    if (qemu_io().empty()) GTEST_SKIP() << "qemu-io not installed";
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = GetParam().make(dir);
    expect_same(path, true, GetParam().name);
}


// 512-byte blocks: 4096 entries cover the disk; the table must fit before
// the file's end (qemu reads it whole).
void tiny_blocks(const std::string& p) {
    write_range(p, kDyn + kBlockSize, be32(512));
    write_range(p, kDyn + kEntries, be32(4096));
    write_range(p, kBat, std::vector<uint8_t>(16384, 0xFF));
    write_range(p, kBat + 16384, read_range(p, 0, 512));
}
void hyperv_sized(const std::string& p) {
    edit_footers(p, kCreatorApp, text("win "));
    edit_footers(p, kCurrentSize, be64(5 * MiB));
}
void disk2vhd_sized(const std::string& p) {
    edit_footers(p, kCreatorApp, text("d2v "));
    edit_footers(p, kCurrentSize, be64(7 * MiB + 512));
}

const Made kMade[] = {
    {"dynamic_0", created(kVpc, "", 0)},
    {"dynamic_1", created(kVpc, "", 1)},
    {"dynamic_16m", created(kVpc, "", 16 * MiB)},
    {"dynamic_odd", created(kVpc, "", 1000000007)},
    {"dynamic_beyond_chs", created(kVpc, "", 65535ull * 16 * 255 * 512 + 512)},
    {"dynamic_max", created(kVpc, "", kMaxBytes)},
    {"dynamic_force_size", created(kVpc, "force_size=on", 1000000007)},
    {"fixed_16m", created(kVpc, "subformat=fixed", 16 * MiB)},
    {"fixed_odd", created(kVpc, "subformat=fixed", 1000000007)},
    {"fixed_force_size", created(kVpc, "subformat=fixed,force_size=on", 1000000007)},
    {"fixed_max", created(kVpc, "subformat=fixed", kMaxBytes)},
    {"converted_dynamic", converted(kVpc, "", 10 * MiB)},
    {"converted_fixed", converted(kVpc, "subformat=fixed", 10 * MiB)},
    {"converted_force_size", converted(kVpc, "force_size=on", 10 * MiB + 512)},
    {"written",
     [](const TempDir& d) {
         std::string p = create(d, "", 64 * MiB);
         CommandResult w =
             run_command(qemu_io() + " -f vpc -c 'write -P 1 0 4k' -c 'write -P 2 40M 3M' -c 'write -P 3 " +
                 std::to_string(64 * MiB - 8192) + " 4k' " + shell_quote(p));
         EXPECT_EQ(w.status, 0) << w.output;
         return p;
     }},
    {"written_fixed",
     [](const TempDir& d) {
         std::string p = create(d, "subformat=fixed", 8 * MiB);
         CommandResult w = run_command(qemu_io() + " -f vpc -c 'write -P 7 1M 1M' " + shell_quote(p));
         EXPECT_EQ(w.status, 0) << w.output;
         return p;
     }},
    // The footer decides about the cluster size, not the layout qemu
    // opened: a footer copy at 0 saying "fixed" reports none, any other
    // type (differencing, unknown) the block size. A differencing disk
    // opens as a plain dynamic one: qemu reports no backing file.
    {"footer_copy_says_fixed", edited(kVpc, "", 16 * MiB, [](const std::string& p) { edit_footers(p, kDiskType, be32(2)); })},
    {"differencing", edited(kVpc, "", 16 * MiB, [](const std::string& p) { edit_footers(p, kDiskType, be32(4)); })},
    {"unknown_disk_type", edited(kVpc, "", 16 * MiB, [](const std::string& p) { edit_footers(p, kDiskType, be32(7)); })},
    {"block_size_4m",
     edited(kVpc, "", 16 * MiB, [](const std::string& p) { write_range(p, kDyn + kBlockSize, be32(4 * MiB)); })},
    {"block_size_512", edited(kVpc, "", 1 * MiB, tiny_blocks)},
    {"hyperv_current_size", edited(kVpc, "", 16 * MiB, hyperv_sized)},
    {"fixed_disk2vhd_current_size", edited(kVpc, "subformat=fixed", 16 * MiB, disk2vhd_sized)},
};

INSTANTIATE_TEST_SUITE_P(Made, VpcInfoOnQemuImages, ::testing::ValuesIn(kMade),
                         [](const ::testing::TestParamInfo<Made>& p) { return std::string(p.param.name); });

struct Damage {
    const char* name;
    bool fixed;
    std::function<void(const std::string&)> apply;
    bool qemu_opens;
};

class VpcInfoOnDamagedImages : public ::testing::TestWithParam<Damage> {};

TEST_P(VpcInfoOnDamagedImages, RefusedWhereQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, d.fixed ? "subformat=fixed" : "", 16 * MiB);
    d.apply(path);
    expect_same(path, d.qemu_opens, d.name);
}

const Damage kDamage[] = {
    {"footer_checksum", false, [](const std::string& p) { write_range(p, 100, {1}); }, false},
    {"fixed_footer_checksum", true, [](const std::string& p) { write_range(p, file_size(p) - 512 + 100, {1}); }, false},
    {"fixed_footer_says_dynamic", true, [](const std::string& p) { edit_footers(p, kDiskType, be32(3)); }, false},
    // Only the copy at 0 counts: a broken footer at the end is not read.
    {"trailing_footer_broken", false, [](const std::string& p) { write_range(p, file_size(p) - 512, {'X'}); }, true},
    {"no_footer_anywhere", false,
     [](const std::string& p) {
         write_range(p, 0, {'X'});
         write_range(p, file_size(p) - 512, {'X'});
     },
     false},
    {"dyn_header_cookie", false, [](const std::string& p) { write_range(p, kDyn, {'X'}); }, false},
    {"block_size_not_power_of_two", false,
     [](const std::string& p) { write_range(p, kDyn + kBlockSize, be32(3 * MiB)); }, false},
    {"table_too_small", false, [](const std::string& p) { write_range(p, kDyn + kEntries, be32(1)); }, false},
    {"table_past_end_of_file", false, [](const std::string& p) { write_range(p, kDyn + kEntries, be32(0x1000)); },
     false},
    {"bat_entry_past_end_of_file", false, [](const std::string& p) { write_range(p, kBat, be32(16)); }, false},
    {"bat_entry_far_away", false, [](const std::string& p) { write_range(p, kBat + 4, be32(0xFFFFFFF0u)); }, false},
    {"header_offset_far_away", false, [](const std::string& p) { edit_footers(p, 16, be64(1ull << 40)); }, false},
    {"over_2040g", true,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("win "));
         edit_footers(p, kCurrentSize, be64(kMaxBytes + 512));
     },
     false},
    {"cut_before_table", false, [](const std::string& p) { truncate_to(p, 1536); }, false},
    {"tiny", false, [](const std::string& p) { truncate_to(p, 100); }, false},
    {"empty", false, [](const std::string& p) { truncate_to(p, 0); }, false},
};

INSTANTIATE_TEST_SUITE_P(Damage, VpcInfoOnDamagedImages, ::testing::ValuesIn(kDamage),
                         [](const ::testing::TestParamInfo<Damage>& p) { return std::string(p.param.name); });

// Random damage to a dynamic image with data, half the time with the
// footer checksum repaired so the damage reaches the deeper checks; qemu
// decides, and every field must agree whenever both open it.
TEST(VpcInfo, RandomDamageAgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    const std::string io_tool = qemu_io();
    if (io_tool.empty()) GTEST_SKIP() << "qemu-io not installed";
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string base = create(dir, "", 16 * MiB);
    ASSERT_EQ(run_command(io_tool + " -f vpc -c 'write -P 5 2M 4k' " + shell_quote(base)).status, 0);
    std::vector<uint8_t> pristine = read_range(base, 0, file_size(base));
    std::mt19937 rng(4242);
    std::string path = dir.file("r.vhd");
    int opened = 0, refused = 0, without_cluster = 0;
    for (int iter = 0; iter < 40; ++iter) {
        std::vector<uint8_t> img = pristine;
        int n = 1 + int(rng() % 3);
        for (int k = 0; k < n; ++k) {
            // The footer's geometry and type (often a known one), the
            // header, the BAT.
            if (rng() % 4 == 0) {
                const uint32_t types[] = {2, 3, 4, 0, 0x80000002u};
                formats::store_be32(img.data() + kDiskType, types[rng() % 5]);
                continue;
            }
            const size_t spots[] = {size_t(56 + rng() % 8), size_t(512 + rng() % 40), size_t(1536 + rng() % 8)};
            img[spots[rng() % 3]] = uint8_t(rng());
        }
        if (rng() % 2) {
            uint32_t sum = 0;
            for (int i = 0; i < 512; ++i)
                if (i < 64 || i >= 68) sum += img[i];
            formats::store_be32(img.data() + kChecksum, ~sum);
        }
        FILE* f = fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        fwrite(img.data(), 1, img.size(), f);
        fclose(f);
        QemuJson q = qemu_info_json(path, "vpc");
        MemorySource mem(img);
        Scratch scratch;
        abi::InfoResult ours;
        Status s = formats::vpc_read_info(mem, scratch.arena, ours);
        EXPECT_EQ(s == formats::kOk, q.ok) << "iteration " << iter << ": " << q.text;
        if (q.ok && s == formats::kOk) {
            EXPECT_TRUE(same_info(q.json, ours, abi::Format::vpc, "vpc")) << "iteration " << iter;
            ++opened;
            if (!(ours.flags & abi::kInfoHasClusterSize)) ++without_cluster;
        } else if (!q.ok) {
            ++refused;
        }
    }
    EXPECT_GT(opened, 0);
    EXPECT_GT(refused, 0);
    EXPECT_GT(without_cluster, 0);
}

// qemu only takes a fixed VHD for vpc when told (-f vpc): detection sees
// raw, read_info opens it all the same.
TEST(VpcInfo, FixedImagesNeedTheFormatNamed) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, "subformat=fixed", 16 * MiB);
    std::vector<uint8_t> head = read_range(path, 0, 4096);
    EXPECT_FALSE(formats::vpc_detect(head.data(), head.size()));
    CommandResult r = run_command(qemu_img() + " info --output=json " + shell_quote(path));
    EXPECT_NE(r.output.find("\"format\": \"raw\""), std::string::npos) << r.output;
    expect_same(path, true, "fixed, -f vpc");
}

// Whatever the caller's buffer held, only what qemu reports is set.
TEST(VpcInfo, ClearsTheResult) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, "subformat=fixed", 16 * MiB);
    expect_clears_result(formats::vpc_read_info, abi::Format::vpc, "vpc", path);
}

TEST(VpcInfo, NeedsOnlyLittleScratch) {
    expect_needs_scratch(formats::vpc_read_info, 2560);
}

}  // namespace
}  // namespace instar::testing
