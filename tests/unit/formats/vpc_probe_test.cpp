// vpc_detect / vpc_read_basic against qemu-img 7.2's own verdicts: on the
// images it makes, and on damaged copies, the probe must open exactly what
// qemu opens and report the size qemu-img info reports.
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vpc/vpc_probe.h"
#include "memory_image.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using namespace vv;
using namespace vv::vhd;
using formats::BasicImageInfo;
using formats::Status;

constexpr uint64_t MiB = 1 << 20, GiB = 1024 * MiB;
constexpr uint64_t kMaxBytes = 0xff000000ull * 512;

Verdict probe(formats::ImageSource& src) { return probe_with(formats::vpc_read_basic, src); }

// vpc's refusals are always malformed data or short reads.
void expect_agreement(const std::string& path, bool qemu_should_open, const std::string& what) {
    Agreement a = expect_probe_agreement(formats::vpc_read_basic, "vpc", path, qemu_should_open, what);
    if (!a.qemu_opened) {
        EXPECT_TRUE(a.ours.status == Status::image_invalid || a.ours.status == Status::read_failed) << what;
    }
}

std::string make(const TempDir& dir, const std::string& name, const std::string& opts, uint64_t size) {
    return qemu_create(dir, name, "vpc", opts, size);
}

TEST(VpcDetect, RecognisesTheFooterCopyOnly) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::vector<uint8_t> dyn = read_range(make(dir, "d.vhd", "", 16 * MiB), 0, 4096);
    EXPECT_TRUE(formats::vpc_detect(dyn.data(), dyn.size()));
    EXPECT_TRUE(formats::vpc_detect(dyn.data(), 8));
    EXPECT_FALSE(formats::vpc_detect(dyn.data(), 7));
    // qemu-img itself takes a fixed VHD for raw: it only probes offset 0.
    std::string fixed = make(dir, "f.vhd", "subformat=fixed", 16 * MiB);
    std::vector<uint8_t> head = read_range(fixed, 0, 4096);
    EXPECT_FALSE(formats::vpc_detect(head.data(), head.size()));
    CommandResult r = run_command(qemu_img() + " info --output=json " + shell_quote(fixed));
    EXPECT_NE(r.output.find("\"format\": \"raw\""), std::string::npos) << r.output;
    dyn[3] ^= 1;
    EXPECT_FALSE(formats::vpc_detect(dyn.data(), dyn.size()));
    EXPECT_FALSE(formats::vpc_detect(nullptr, 0));
}

struct Made {
    uint64_t size;
    const char* opts;
};

class VpcProbeOnQemuImages : public ::testing::TestWithParam<Made> {};

TEST_P(VpcProbeOnQemuImages, ReportsQemuImgInfoSize) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = make(dir, "x.vhd", GetParam().opts, GetParam().size);
    expect_agreement(path, true, GetParam().opts);
}

INSTANTIATE_TEST_SUITE_P(
    Made, VpcProbeOnQemuImages,
    ::testing::Values(Made{1, ""}, Made{16 * MiB, ""}, Made{1000000007, ""}, Made{GiB, "subformat=fixed"},
                      Made{1000000007, "force_size=on"}, Made{1000000007, "subformat=fixed,force_size=on"},
                      Made{65535ull * 16 * 255 * 512 + 512, ""}, Made{kMaxBytes, ""},
                      Made{kMaxBytes, "subformat=fixed"}, Made{0, ""}),
    [](const ::testing::TestParamInfo<Made>& p) { return "case" + std::to_string(p.index); });

struct Damage {
    const char* name;
    bool fixed;
    std::function<void(const std::string&)> apply;
    bool qemu_opens;
};

class VpcProbeOnDamagedImages : public ::testing::TestWithParam<Damage> {};

TEST_P(VpcProbeOnDamagedImages, AgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = make(dir, "x.vhd", d.fixed ? "subformat=fixed" : "", 16 * MiB);
    d.apply(path);
    expect_agreement(path, d.qemu_opens, d.name);
}

const Damage kDamage[] = {
    {"intact_dynamic", false, [](const std::string&) {}, true},
    {"intact_fixed", true, [](const std::string&) {}, true},
    {"footer_checksum", false, [](const std::string& p) { write_range(p, 100, {1}); }, false},
    {"fixed_footer_checksum", true,
     [](const std::string& p) { write_range(p, file_size(p) - 512 + 100, {1}); }, false},
    {"no_footer_copy", false, [](const std::string& p) { write_range(p, 0, {'x'}); }, false},
    {"no_footer_copy_end_says_fixed", false,
     [](const std::string& p) {
         write_range(p, 0, {'x'});
         uint64_t end = file_size(p) - 512;
         write_range(p, end + kDiskType, be32(2));
         refresh_footer(p, end);
     },
     true},
    {"fixed_footer_says_dynamic", true, [](const std::string& p) { edit_footers(p, kDiskType, be32(3)); }, false},
    {"hyperv_current_size", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("win "));
         edit_footers(p, kCurrentSize, be64(5 * MiB));
     },
     true},
    {"disk2vhd_unaligned_size", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("d2v "));
         edit_footers(p, kCurrentSize, be64(5 * MiB + 100));
     },
     true},
    {"xenserver_current_size", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, {'t', 'a', 'p', 0});
         edit_footers(p, kCurrentSize, be64(5 * MiB));
     },
     true},
    {"xenconverter_current_size", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("CTXS"));
         edit_footers(p, kCurrentSize, be64(5 * MiB));
     },
     true},
    // qemu 7.2 predates its Azure entry: unknown creators get the CHS size.
    {"azure_uses_chs", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, {'w', 'a', 0, 0});
         edit_footers(p, kCurrentSize, be64(5 * MiB));
     },
     true},
    {"unknown_creator_uses_chs", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("abcd"));
         edit_footers(p, kCurrentSize, be64(~0ull));
     },
     true},
    {"tap_without_nul_uses_chs", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("tapX"));
         edit_footers(p, kCurrentSize, be64(5 * MiB));
     },
     true},
    {"virtualpc_uses_chs", false,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("vpc "));
         edit_footers(p, kCurrentSize, be64(5 * MiB));
     },
     true},
    {"max_geometry_uses_current_size", false,
     [](const std::string& p) {
         edit_footers(p, kGeometry, be32(0xFFFF10FF));
         edit_footers(p, kCurrentSize, be64(3 * MiB));
     },
     true},
    {"fixed_over_2040g", true,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("win "));
         edit_footers(p, kCurrentSize, be64(kMaxBytes + 512));
     },
     false},
    {"fixed_2040g_by_current_size", true,
     [](const std::string& p) {
         edit_footers(p, kCreatorApp, text("win "));
         edit_footers(p, kCurrentSize, be64(kMaxBytes));
     },
     true},
    {"dyn_header_cookie", false, [](const std::string& p) { write_range(p, kDyn, {'X'}); }, false},
    {"block_size_zero", false, [](const std::string& p) { write_range(p, kDyn + kBlockSize, be32(0)); }, false},
    {"block_size_not_power_of_two", false,
     [](const std::string& p) { write_range(p, kDyn + kBlockSize, be32(3 * MiB)); }, false},
    {"block_size_below_sector", false, [](const std::string& p) { write_range(p, kDyn + kBlockSize, be32(256)); },
     false},
    {"block_size_4m", false, [](const std::string& p) { write_range(p, kDyn + kBlockSize, be32(4 * MiB)); }, true},
    {"table_too_small", false, [](const std::string& p) { write_range(p, kDyn + kEntries, be32(1)); }, false},
    {"table_count_negative", false, [](const std::string& p) { write_range(p, kDyn + kEntries, be32(0x80000000u)); },
     false},
    {"table_count_over_limit", false,
     [](const std::string& p) { write_range(p, kDyn + kEntries, be32(0x20000000u)); }, false},
    {"table_past_end_of_file", false,
     [](const std::string& p) { write_range(p, kDyn + kEntries, be32(0x1000)); }, false},
    // More entries than 2040 GiB needs is fine, as long as the table fits.
    {"table_count_beyond_2040g", false,
     [](const std::string& p) {
         write_range(p, kDyn + kEntries, be32(1044481));
         write_range(p, 2048, std::vector<uint8_t>(512, 0xFF));
         truncate_to(p, 8 * MiB);
     },
     true},
    {"block_past_end_of_file", false, [](const std::string& p) { write_range(p, kBat, be32(16)); }, false},
    {"table_offset_far_away", false,
     [](const std::string& p) { write_range(p, kDyn + kTableOffset, be64(1ull << 40)); }, false},
    {"table_offset_beyond_any_file", false,
     [](const std::string& p) { write_range(p, kDyn + kTableOffset, be64(0x7FFFFFFFFFFFF000ull)); }, false},
    {"header_offset_far_away", false, [](const std::string& p) { edit_footers(p, 16, be64(1ull << 40)); }, false},
    {"trailing_footer_cut", false, [](const std::string& p) { truncate_to(p, 2048); }, true},
    {"cut_before_table", false, [](const std::string& p) { truncate_to(p, 1536); }, false},
    // qemu sees whole sectors: a cut inside the table's sector still
    // leaves the table (zero padded) inside the file.
    {"cut_mid_table_sector", false, [](const std::string& p) { truncate_to(p, 1600); }, true},
    {"fixed_unaligned_tail", true,
     [](const std::string& p) { ASSERT_EQ(truncate(p.c_str(), off_t(file_size(p) + 100)), 0); }, false},
    // qemu pads the last sector with zeros: the footer's zero tail may go.
    {"fixed_cut_mid_footer", true, [](const std::string& p) { truncate_to(p, file_size(p) - 100); }, true},
    {"tiny_file", false, [](const std::string& p) { truncate_to(p, 100); }, false},
    {"empty_file", false, [](const std::string& p) { truncate_to(p, 0); }, false},
};

INSTANTIATE_TEST_SUITE_P(Damage, VpcProbeOnDamagedImages, ::testing::ValuesIn(kDamage),
                         [](const ::testing::TestParamInfo<Damage>& p) { return std::string(p.param.name); });

TEST(VpcProbe, AcceptsBlocksQemuAllocated) {
    INSTAR_REQUIRE_QEMU_IMG();
    const std::string io_tool = qemu_io();
    if (io_tool.empty()) GTEST_SKIP() << "qemu-io not installed";
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = make(dir, "x.vhd", "", 64 * MiB);
    CommandResult w = run_command(io_tool + " -f vpc -c 'write -P 1 0 4k' -c 'write -P 2 40M 4k' " + shell_quote(path));
    ASSERT_EQ(w.status, 0) << w.output;
    expect_agreement(path, true, "written");
    // The last block's data cut off: qemu refuses the truncated image.
    truncate_to(path, file_size(path) - 512 - 4096);
    expect_agreement(path, false, "written, truncated");
}

// Random damage to a small dynamic image, half the time with the footer
// checksum repaired so the damage reaches the deeper checks. qemu decides.
TEST(VpcProbe, RandomDamageAgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string base = make(dir, "base.vhd", "", 16 * MiB);
    std::vector<uint8_t> pristine = read_range(base, 0, file_size(base));
    std::mt19937 rng(20240601);
    std::string path = dir.file("x.vhd");
    for (int iter = 0; iter < 60; ++iter) {
        std::vector<uint8_t> img = pristine;
        int n = 1 + int(rng() % 4);
        for (int k = 0; k < n; ++k) {
            // Mostly the meaningful fields: footer head, header head, BAT.
            size_t at = rng() % 3 == 0 ? rng() % img.size() : (rng() % 3) * 512 + rng() % 64;
            img[at] = uint8_t(rng());
        }
        if (rng() % 2) {
            uint32_t sum = 0;
            for (int i = 0; i < 512; ++i)
                if (i < 64 || i >= 68) sum += img[i];
            formats::store_be32(img.data() + kChecksum, ~sum);
        }
        {
            FILE* f = fopen(path.c_str(), "wb");
            ASSERT_NE(f, nullptr);
            fwrite(img.data(), 1, img.size(), f);
            fclose(f);
        }
        Info q = qemu_info(path, "vpc");
        MemorySource mem(img);
        Verdict v = probe(mem);
        EXPECT_EQ(v.status == formats::kOk, q.ok) << "iteration " << iter << ": " << q.text;
        if (q.ok && v.status == formats::kOk) {
            EXPECT_EQ(v.size, uint64_t(q.virtual_size)) << "iteration " << iter;
        }
    }
}

TEST(VpcProbe, NeedsOnlyLittleScratch) {
    std::vector<uint8_t> img(2560, 0);
    MemorySource mem(img);
    std::vector<uint8_t> none(16);
    formats::Arena arena(none.data(), none.size());
    BasicImageInfo info{};
    EXPECT_EQ(formats::vpc_read_basic(mem, arena, info), Status::out_of_memory);
}

}  // namespace
}  // namespace instar::testing
