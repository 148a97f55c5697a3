// vhdx_detect / vhdx_read_basic against qemu-img 7.2's own verdicts: on
// the images it makes, and on damaged copies, the probe must open exactly
// what qemu opens and report the size qemu-img info reports.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vhdx/vhdx_probe.h"
#include "memory_image.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using namespace vv;
using namespace vv::vhdx_edit;
using formats::BasicImageInfo;
using formats::Status;

constexpr uint64_t MiB = 1 << 20, GiB = 1024 * MiB, TiB = 1024 * GiB;

// Layout facts (VHDX spec; qemu's placement for a 64 MiB image with the
// default 1 MiB log and 8 MiB blocks: BAT at 2 MiB, metadata at 3 MiB).
constexpr uint64_t kH1 = 0x10000, kH2 = 0x20000, kRt = 0x30000;
constexpr uint64_t kSeq = 8, kDataGuid = 32, kLogGuid = 48, kLogVersion = 64, kVersion = 66, kLogLength = 68,
                   kLogOffset = 72;
constexpr uint64_t kBatAt = 2 * MiB, kMetaAt = 3 * MiB, kItems = kMetaAt + 0x10000;
// Metadata items in qemu's order: file parameters, disk size, page 83,
// logical sector size, physical sector size.
constexpr uint64_t kBlockSizeItem = kItems, kFlagsItem = kItems + 4, kDiskSizeItem = kItems + 8,
                   kLogicalItem = kItems + 32;

std::vector<uint8_t> some_guid(uint8_t seed) {
    std::vector<uint8_t> g(16);
    for (int i = 0; i < 16; ++i) g[i] = uint8_t(seed + 11 * i);
    return g;
}

Verdict probe(formats::ImageSource& src) { return probe_with(formats::vhdx_read_basic, src); }

void expect_agreement(const std::string& path, bool qemu_should_open, const std::string& what) {
    expect_probe_agreement(formats::vhdx_read_basic, "vhdx", path, qemu_should_open, what);
}

std::string make(const TempDir& dir, const std::string& opts, uint64_t size) {
    return qemu_create(dir, "x.vhdx", "vhdx", opts, size);
}

TEST(VhdxDetect, RecognisesTheSignature) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::vector<uint8_t> head = read_range(make(dir, "", 64 * MiB), 0, 4096);
    EXPECT_TRUE(formats::vhdx_detect(head.data(), head.size()));
    EXPECT_TRUE(formats::vhdx_detect(head.data(), 8));
    EXPECT_FALSE(formats::vhdx_detect(head.data(), 7));
    head[7] ^= 0x20;  // "vhdxfilE"
    EXPECT_FALSE(formats::vhdx_detect(head.data(), head.size()));
    EXPECT_FALSE(formats::vhdx_detect(nullptr, 0));
}

struct Made {
    uint64_t size;
    const char* opts;
    const char* io;  // qemu-io commands run on it first, or nullptr
};

class VhdxProbeOnQemuImages : public ::testing::TestWithParam<Made> {};

TEST_P(VhdxProbeOnQemuImages, ReportsQemuImgInfoSize) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Made& m = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = make(dir, m.opts, m.size);
    if (m.io) {
        const std::string io_tool = qemu_io();
        if (io_tool.empty()) GTEST_SKIP() << "qemu-io not installed";
        CommandResult w = run_command(io_tool + " -f vhdx " + m.io + " " + shell_quote(path));
        ASSERT_EQ(w.status, 0) << w.output;
    }
    expect_agreement(path, true, m.opts);
}

INSTANTIATE_TEST_SUITE_P(
    Made, VhdxProbeOnQemuImages,
    ::testing::Values(Made{0, "", nullptr}, Made{1, "", nullptr}, Made{64 * MiB, "", nullptr},
                      Made{1000000007, "block_size=1M", nullptr}, Made{1000000007, "subformat=fixed", nullptr},
                      Made{64 * MiB, "subformat=fixed,block_state_zero=off", nullptr},
                      Made{2 * TiB, "subformat=fixed,block_state_zero=off", nullptr},
                      Made{64 * TiB, "", nullptr}, Made{64 * MiB, "log_size=8M,block_size=256M", nullptr},
                      Made{64 * MiB, "", "-c 'write -P 1 0 64k' -c 'write -P 2 40M 1M'"},
                      Made{64 * MiB, "block_state_zero=off", "-c 'write -P 3 63M 1M'"}),
    [](const ::testing::TestParamInfo<Made>& p) { return "case" + std::to_string(p.index); });

struct Damage {
    const char* name;
    const char* opts;  // how the 64 MiB base image is made
    std::function<void(const std::string&)> apply;
    bool qemu_opens;
};

class VhdxProbeOnDamagedImages : public ::testing::TestWithParam<Damage> {};

TEST_P(VhdxProbeOnDamagedImages, AgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = make(dir, d.opts, 64 * MiB);
    d.apply(path);
    expect_agreement(path, d.qemu_opens, d.name);
}

const char* const kFixed = "subformat=fixed,block_state_zero=off";
const std::vector<uint8_t> kBatGuid = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                       0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
const std::vector<uint8_t> kFileParamsGuid = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                              0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};

uint64_t seq_of(const std::string& p, uint64_t h) { return formats::load_le64(read_range(p, h + kSeq, 8).data()); }

const Damage kDamage[] = {
    {"intact", "", [](const std::string&) {}, true},
    {"intact_fixed", kFixed, [](const std::string&) {}, true},
    {"header1_checksum", "", [](const std::string& p) { write_range(p, kH1 + 100, {1}); }, true},
    {"header2_checksum", "", [](const std::string& p) { write_range(p, kH2 + 100, {1}); }, true},
    {"both_header_checksums", "",
     [](const std::string& p) {
         write_range(p, kH1 + 100, {1});
         write_range(p, kH2 + 100, {1});
     },
     false},
    {"equal_sequence_identical_headers", "",
     [](const std::string& p) { edit_header(p, kH2, kSeq, le64(seq_of(p, kH1))); }, true},
    {"equal_sequence_different_headers", "",
     [](const std::string& p) {
         write_range(p, kH2 + kDataGuid, some_guid(1));
         edit_header(p, kH2, kSeq, le64(seq_of(p, kH1)));
     },
     false},
    {"header1_newer", "", [](const std::string& p) { edit_header(p, kH1, kSeq, le64(seq_of(p, kH2) + 1)); }, true},
    {"current_header_version_2", "", [](const std::string& p) { edit_header(p, kH2, kVersion, le16(2)); }, true},
    {"both_versions_2", "",
     [](const std::string& p) {
         edit_header(p, kH1, kVersion, le16(2));
         edit_header(p, kH2, kVersion, le16(2));
     },
     false},
    {"header_signatures", "",
     [](const std::string& p) {
         edit_header(p, kH1, 0, {'H'});
         edit_header(p, kH2, 0, {'H'});
     },
     false},
    {"log_offset_unaligned", "", [](const std::string& p) { edit_header(p, kH2, kLogOffset, le64(0x180000)); }, false},
    {"log_offset_in_header_section", "", [](const std::string& p) { edit_header(p, kH2, kLogOffset, le64(0)); },
     false},
    {"log_version_1", "", [](const std::string& p) { edit_header(p, kH2, kLogVersion, le16(1)); }, false},
    {"log_length_unaligned", "",
     [](const std::string& p) {
         write_range(p, kH2 + kLogGuid, some_guid(7));
         edit_header(p, kH2, kLogLength, le32(0x180000));
     },
     false},
    {"log_overlaps_bat", "", [](const std::string& p) { edit_header(p, kH2, kLogLength, le32(2 * MiB)); }, false},
    {"region_table_checksum", "", [](const std::string& p) { write_range(p, kRt + 200, {1}); }, false},
    {"region_signature", "", [](const std::string& p) { edit_region_table(p, 0, {'R'}); }, false},
    {"region_count_over_limit", "", [](const std::string& p) { edit_region_table(p, 8, le32(2048)); }, false},
    {"no_metadata_region", "", [](const std::string& p) { edit_region_table(p, 8, le32(1)); }, false},
    {"unknown_required_region", "",
     [](const std::string& p) {
         put_region(p, 2, some_guid(3), 40 * MiB, 1 * MiB, 1);
         edit_region_table(p, 8, le32(3));
     },
     false},
    {"unknown_optional_region", "",
     [](const std::string& p) {
         put_region(p, 2, some_guid(3), 40 * MiB, 1 * MiB, 0);
         edit_region_table(p, 8, le32(3));
     },
     true},
    {"region_overlapping_metadata", "",
     [](const std::string& p) {
         put_region(p, 2, some_guid(3), kMetaAt + 4096, 4096, 0);
         edit_region_table(p, 8, le32(3));
     },
     false},
    {"second_bat_region", "",
     [](const std::string& p) {
         put_region(p, 2, kBatGuid, 40 * MiB, 1 * MiB, 0);
         edit_region_table(p, 8, le32(3));
     },
     false},
    {"bat_over_log", "", [](const std::string& p) { put_region(p, 0, kBatGuid, 1 * MiB, 1 * MiB, 0); }, false},
    // qemu reads the whole BAT region in one request: over 2 GiB it fails.
    {"bat_region_too_long_to_read", kFixed,
     [](const std::string& p) { put_region(p, 0, kBatGuid, 0x7B00200000ull, 0x98100000u, 0); }, false},
    // Far past the end of the file the BAT reads as zeros: nothing present.
    {"bat_region_far_past_end", kFixed,
     [](const std::string& p) { put_region(p, 0, kBatGuid, 0x6600000000200000ull, 1 * MiB, 0); }, true},
    {"bat_region_beyond_block_layer", "",
     [](const std::string& p) { put_region(p, 0, kBatGuid, 0x7FFFFFFFFFF00000ull, 1 * MiB, 0); }, false},
    {"metadata_far_away", "",
     [](const std::string& p) { edit_region_table(p, 48 + 16, le64(0x4000000000000000ull)); }, false},
    {"metadata_signature", "", [](const std::string& p) { write_range(p, kMetaAt, {'M'}); }, false},
    {"metadata_count_over_limit", "", [](const std::string& p) { write_range(p, kMetaAt + 10, le16(2048)); },
     false},
    {"metadata_count_at_limit", "", [](const std::string& p) { write_range(p, kMetaAt + 10, le16(2047)); }, true},
    {"metadata_item_missing", "", [](const std::string& p) { write_range(p, kMetaAt + 10, le16(4)); }, false},
    {"metadata_item_twice", "",
     [](const std::string& p) {
         put_metadata_entry(p, 5, kFileParamsGuid, 0x10000, 8, 4);
         write_range(p, kMetaAt + 10, le16(6));
     },
     false},
    {"unknown_required_item", "",
     [](const std::string& p) {
         put_metadata_entry(p, 5, some_guid(9), 0x10100, 8, 4);
         write_range(p, kMetaAt + 10, le16(6));
     },
     false},
    {"unknown_optional_item", "",
     [](const std::string& p) {
         put_metadata_entry(p, 5, some_guid(9), 0x10100, 8, 2);
         write_range(p, kMetaAt + 10, le16(6));
     },
     true},
    {"items_past_end_of_file", "",
     [](const std::string& p) { put_metadata_entry(p, 0, kFileParamsGuid, 0x7FFFFFF0, 8, 4); }, false},
    {"block_size_512k", "", [](const std::string& p) { write_range(p, kBlockSizeItem, le32(512 * 1024)); }, false},
    {"block_size_3m", "", [](const std::string& p) { write_range(p, kBlockSizeItem, le32(3 * MiB)); }, false},
    {"block_size_512m", "", [](const std::string& p) { write_range(p, kBlockSizeItem, le32(512 * MiB)); }, false},
    {"block_size_32m", "", [](const std::string& p) { write_range(p, kBlockSizeItem, le32(32 * MiB)); }, true},
    {"has_parent", "", [](const std::string& p) { write_range(p, kFlagsItem, le32(2)); }, false},
    {"logical_sector_4k", "", [](const std::string& p) { write_range(p, kLogicalItem, le32(4096)); }, false},
    {"disk_size_unaligned", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(64 * MiB + 100)); },
     true},
    {"disk_size_100g", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(100 * GiB)); }, true},
    {"disk_size_beyond_bat", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(1 * TiB)); }, false},
    {"disk_size_huge", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(~0ull)); }, false},
    // Passes every vhdx check (the 32-bit block count wraps small), but is
    // longer than qemu's block layer allows.
    {"disk_size_beyond_block_layer", "",
     [](const std::string& p) { write_range(p, kDiskSizeItem, le64(0x8000000000000000ull + 64 * MiB)); }, false},
    {"disk_size_zero", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(0)); }, false},
    {"block_past_end_of_file", kFixed,
     [](const std::string& p) { write_range(p, kBatAt + 8, le64((1ull << 40) | 6)); }, false},
    {"block_offset_overflow", kFixed,
     [](const std::string& p) { write_range(p, kBatAt + 8, le64(0xFFFFFFFFFFF00006ull)); }, false},
    {"block_over_metadata", kFixed, [](const std::string& p) { write_range(p, kBatAt + 8, le64(kMetaAt | 6)); },
     false},
    {"block_over_headers", kFixed, [](const std::string& p) { write_range(p, kBatAt + 8, le64(0 | 6)); }, false},
    {"zero_state_anywhere", "", [](const std::string& p) { write_range(p, kBatAt + 8, le64((1ull << 40) | 2)); },
     true},
    {"fixed_cut_by_a_block", kFixed, [](const std::string& p) { truncate_to(p, file_size(p) - 8 * MiB); }, false},
    {"fixed_cut_by_a_sector", kFixed, [](const std::string& p) { truncate_to(p, file_size(p) - 512); }, false},
    // qemu sees whole sectors: 100 bytes short still reaches the end.
    {"fixed_cut_mid_sector", kFixed, [](const std::string& p) { truncate_to(p, file_size(p) - 100); }, true},
    {"cut_in_header_section", "", [](const std::string& p) { truncate_to(p, 0x30000); }, false},
    {"cut_before_metadata", "", [](const std::string& p) { truncate_to(p, kMetaAt); }, false},
    {"signature", "", [](const std::string& p) { write_range(p, 0, {'V'}); }, false},
    {"empty", "", [](const std::string& p) { truncate_to(p, 0); }, false},
};

INSTANTIATE_TEST_SUITE_P(Damage, VhdxProbeOnDamagedImages, ::testing::ValuesIn(kDamage),
                         [](const ::testing::TestParamInfo<Damage>& p) { return std::string(p.param.name); });

// A header naming a log whose region holds no valid entry: qemu searches
// the log, finds nothing to replay and opens the image. Logs with entries
// are tested in vhdx_info_test.cpp.
TEST(VhdxProbe, OpensImagesNamingAnEmptyLog) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = make(dir, "", 64 * MiB);
    edit_header(path, kH2, kLogGuid, some_guid(5));
    expect_agreement(path, true, "log GUID, empty log");
    // A log GUID with an empty log is no log at all.
    edit_header(path, kH2, kLogLength, le32(0));
    expect_agreement(path, true, "log GUID, zero length");
}

// Random damage to the structures qemu reads, half the time with checksums
// repaired so the damage reaches the deeper checks.
TEST(VhdxProbe, RandomDamageAgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string base = make(dir, kFixed, 64 * MiB);
    std::string pristine = dir.file("pristine.vhdx");
    ASSERT_TRUE(copy_file(base, pristine));
    struct Area {
        uint64_t at, len, crc_block;
    };
    const Area areas[] = {{kH1, 80, 4096},         {kH2, 80, 4096},      {kRt, 80, 65536},
                          {kMetaAt, 192, 0},       {kItems, 40, 0},      {kBatAt, 72, 0}};
    std::mt19937 rng(77);
    for (int iter = 0; iter < 60; ++iter) {
        std::string path = dir.file("x.vhdx");
        ASSERT_TRUE(copy_file(pristine, path));
        const Area& a = areas[rng() % (sizeof areas / sizeof areas[0])];
        int n = 1 + int(rng() % 3);
        for (int k = 0; k < n; ++k) {
            uint64_t off = rng() % a.len;
            write_range(path, a.at + off, {uint8_t(rng())});
        }
        if (a.crc_block && rng() % 2) refresh_crc(path, a.at, a.crc_block);
        Info q = qemu_info(path, "vhdx");
        FileSource src(path);
        Verdict v = probe(src);
        EXPECT_EQ(v.status == formats::kOk, q.ok) << "iteration " << iter << ": " << q.text;
        if (q.ok && v.status == formats::kOk) {
            EXPECT_EQ(v.size, uint64_t(q.virtual_size)) << "iteration " << iter;
        }
    }
}

TEST(VhdxProbe, NeedsOnlyLittleScratch) {
    std::vector<uint8_t> img(8, 0);
    MemorySource mem(img);
    std::vector<uint8_t> none(16);
    formats::Arena arena(none.data(), none.size());
    BasicImageInfo info{};
    EXPECT_EQ(formats::vhdx_read_basic(mem, arena, info), Status::out_of_memory);
}

}  // namespace
}  // namespace instar::testing
