// vmdk_detect and vmdk_read_basic, on files qemu-img made and on damaged
// or hostile ones; where qemu has an opinion, it is asked and must agree.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_probe.h"
#include "memory_image.h"
#include "vmdk_test_support.h"

namespace instar::testing::vmdk {
namespace {

using formats::BasicImageInfo;
using formats::Status;

constexpr uint64_t MiB = 1024 * 1024, GiB = 1024 * MiB;

struct QemuInfo {
    bool opened = false;
    uint64_t virtual_size = 0;
    uint64_t cid = 0;
    std::string output;
};

// What qemu makes of a file opened as vmdk (no probing).
QemuInfo qemu_info(const std::string& path) {
    QemuInfo q;
    QemuJson r = qemu_info_json(path, "vmdk", "-U");
    q.output = r.text;
    q.opened = r.ok && json_number(r.text, "virtual-size", q.virtual_size) && json_number(r.text, "cid", q.cid);
    return q;
}

Status read_basic(std::vector<uint8_t> bytes, BasicImageInfo& info) {
    StrictSource src(std::move(bytes));
    Scratch scratch;
    const Status s = formats::vmdk_read_basic(src, scratch.arena, info);
    EXPECT_FALSE(src.out_of_bounds) << "read outside the file";
    return s;
}

bool detect(const std::vector<uint8_t>& file) {
    const size_t n = std::min<size_t>(file.size(), formats::kProbeHeadBytes);
    return formats::vmdk_detect(file.data(), n);
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// ---- detection -----------------------------------------------------------

TEST(VmdkDetect, QemuMadeFilesOfEverySubformat) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    for (const char* sub : {"monolithicSparse", "streamOptimized", "monolithicFlat", "twoGbMaxExtentSparse",
                            "twoGbMaxExtentFlat"}) {
        const std::string f = dir.file(std::string(sub) + ".vmdk");
        ASSERT_EQ(run_command("qemu-img create -q -f vmdk -o subformat=" + std::string(sub) + " " + shell_quote(f) + " 3G")
                      .status,
                  0);
        EXPECT_TRUE(detect(read_file(f))) << sub;
    }
    for (const char* fmt : {"qcow2", "vpc", "vhdx", "raw"}) {
        const std::string f = dir.file(std::string("x.") + fmt);
        ASSERT_EQ(run_command("qemu-img create -q -f " + std::string(fmt) + " " + shell_quote(f) + " 16M").status, 0);
        EXPECT_FALSE(detect(read_file(f))) << fmt;
    }
}

TEST(VmdkDetect, EmptyHeadIsNotVmdk) {
    EXPECT_FALSE(formats::vmdk_detect(nullptr, 0));
    const uint8_t b[1] = {'K'};
    EXPECT_FALSE(formats::vmdk_detect(b, 0));
}

struct DetectCase {
    const char* name;
    std::string text;
};

void PrintTo(const DetectCase& c, std::ostream* os) { *os << c.name; }

class VmdkDetectLikeQemu : public ::testing::TestWithParam<DetectCase> {};

// qemu's verdict: a file it probes as vmdk is not reported as raw (it may
// then fail to open, which is fine: detection is what is compared).
TEST_P(VmdkDetectLikeQemu, SameVerdict) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("d.vmdk");
    const std::vector<uint8_t> content = bytes_of(GetParam().text);
    ASSERT_TRUE(write_sparse(f, content));
    auto r = run_command("qemu-img info -U --output=json " + shell_quote(f));
    const bool qemu_says_vmdk = !(r.status == 0 && r.output.find("\"format\": \"raw\"") != std::string::npos);
    EXPECT_EQ(detect(content), qemu_says_vmdk) << r.output;
}

std::vector<DetectCase> detect_cases() {
    return {
        {"version1", "version=1\n"},
        {"version2", "version=2\n"},
        {"version3_crlf", "version=3\r\nCID=1\r\n"},
        {"version4", "version=4\n"},
        {"comment_first", "# Disk DescriptorFile\nversion=1\n"},
        {"blank_spaces_line", "   \nversion=1\n"},
        {"blank_spaces_crlf", "  \r\nversion=2\n"},
        {"empty_line_first", "\nversion=1\n"},
        {"tab_first", "\tversion=1\n"},
        {"spaces_then_text", "  x\nversion=1\n"},
        {"no_newline", "version=1"},
        {"only_comment", "# nothing else"},
        {"comment_to_512", "#" + std::string(500, 'x') + "\nversion=1\n"},    // ends at byte 512
        {"comment_past_512", "#" + std::string(501, 'x') + "\nversion=1\n"},  // one byte too far
        {"crlf_past_512", "#" + std::string(499, 'x') + "\nversion=1\r\n"},   // 513 bytes
        {"magic_only", "KDMV"},
        {"cowd", "COWD" + std::string(508, '\0')},
        {"short_magic", "KDM"},
        {"nul_then_version", std::string(1, '\0') + "version=1\n"},
    };
}

INSTANTIATE_TEST_SUITE_P(Texts, VmdkDetectLikeQemu, ::testing::ValuesIn(detect_cases()),
                         [](const ::testing::TestParamInfo<DetectCase>& i) { return std::string(i.param.name); });

// ---- reading qemu-made images -------------------------------------------

struct MadeCase {
    const char* name;
    std::string options;  // qemu-img create arguments before the file name
    std::string size;
    bool child = false;
};

void PrintTo(const MadeCase& c, std::ostream* os) { *os << c.name; }

class VmdkReadBasicQemuMade : public ::testing::TestWithParam<MadeCase> {};

TEST_P(VmdkReadBasicQemuMade, SizeAndCidAsQemuReports) {
    INSTAR_REQUIRE_QEMU_IMG();
    const MadeCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string opts = c.options;
    if (c.child) {
        ASSERT_EQ(run_command("qemu-img create -q -f vmdk " + shell_quote(dir.file("base.vmdk")) + " 5M").status, 0);
        opts += " -b base.vmdk -F vmdk";
    }
    const std::string f = dir.file("img.vmdk");
    auto made = run_command("qemu-img create -q -f vmdk " + opts + " " + shell_quote(f) + " " + c.size);
    ASSERT_EQ(made.status, 0) << made.output;
    const QemuInfo q = qemu_info(f);
    ASSERT_TRUE(q.opened) << q.output;

    FileSource src(f, PastEnd::fail);
    ASSERT_TRUE(src.ok());
    Scratch scratch;
    BasicImageInfo info{};
    ASSERT_EQ(formats::vmdk_read_basic(src, scratch.arena, info), formats::kOk);
    EXPECT_EQ(info.virtual_size, q.virtual_size);
    EXPECT_TRUE(info.has_cid);
    EXPECT_EQ(info.cid, q.cid);
}

INSTANTIATE_TEST_SUITE_P(Images, VmdkReadBasicQemuMade,
                         ::testing::Values(MadeCase{"sparse_1M", "", "1M"}, MadeCase{"sparse_511", "", "511"},
                                           MadeCase{"sparse_2T_lsilogic", "-o adapter_type=lsilogic", "2T"},
                                           MadeCase{"stream_64M", "-o subformat=streamOptimized", "64M"},
                                           MadeCase{"zeroed_grain", "-o zeroed_grain=on", "1G"},
                                           MadeCase{"compat6", "-o compat6=on", "1G"},
                                           MadeCase{"child", "", "", true},
                                           MadeCase{"stream_child", "-o subformat=streamOptimized", "", true}),
                         [](const ::testing::TestParamInfo<MadeCase>& i) { return std::string(i.param.name); });

// ---- damaged and hostile images -----------------------------------------

struct Damage {
    const char* name;
    void (*apply)(std::vector<uint8_t>&);
    Status expected;
    bool ask_qemu = true;  // false where qemu would not even probe it as vmdk, or reads out of bounds
};

void PrintTo(const Damage& c, std::ostream* os) { *os << c.name; }

class VmdkReadBasicDamaged : public ::testing::TestWithParam<Damage> {};

TEST_P(VmdkReadBasicDamaged, AgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("img.vmdk");
    std::vector<uint8_t> b = qemu_made_1m(f);
    ASSERT_FALSE(b.empty());
    d.apply(b);

    BasicImageInfo info{};
    const Status s = read_basic(b, info);
    EXPECT_EQ(s, d.expected);
    if (!d.ask_qemu) return;
    ASSERT_TRUE(write_sparse(f, b));
    const QemuInfo q = qemu_info(f);
    EXPECT_EQ(q.opened, s == formats::kOk) << q.output;
    if (q.opened && s == formats::kOk) {
        EXPECT_EQ(info.virtual_size, q.virtual_size);
        EXPECT_EQ(info.cid, q.cid);
    }
}

const Damage kDamage[] = {
    {"intact", [](std::vector<uint8_t>&) {}, formats::kOk},
    {"truncated_to_3_bytes", [](std::vector<uint8_t>& b) { b.resize(3); }, Status::image_invalid},
    {"truncated_to_header", [](std::vector<uint8_t>& b) { b.resize(512); }, Status::image_invalid},
    {"truncated_inside_descriptor", [](std::vector<uint8_t>& b) { b.resize(600); }, Status::image_invalid},
    {"truncated_one_sector_short", [](std::vector<uint8_t>& b) { b.erase(b.end() - 512, b.end()); },
     Status::image_invalid},
    // qemu counts the file's sectors rounding up: a partial last sector
    // still covers the first grain's offset.
    {"truncated_one_byte_short", [](std::vector<uint8_t>& b) { b.pop_back(); }, formats::kOk},
    {"version_4", [](std::vector<uint8_t>& b) { put32(b, 4, 4); }, Status::unsupported_feature},
    {"gtes_per_gt_513", [](std::vector<uint8_t>& b) { put32(b, 44, 513); }, Status::image_invalid},
    {"gtes_per_gt_0", [](std::vector<uint8_t>& b) { put32(b, 44, 0); }, Status::image_invalid},
    {"granularity_0", [](std::vector<uint8_t>& b) { put64(b, 20, 0); }, Status::image_invalid},
    {"granularity_too_big", [](std::vector<uint8_t>& b) { put64(b, 20, 0x200001); }, Status::image_invalid},
    {"directory_too_big", [](std::vector<uint8_t>& b) { put64(b, 12, uint64_t(1) << 42); }, Status::image_invalid},
    {"capacity_512T", [](std::vector<uint8_t>& b) { put64(b, 12, uint64_t(1) << 40); }, formats::kOk},
    {"capacity_zero_no_descriptor",
     [](std::vector<uint8_t>& b) {
         put64(b, 12, 0);
         put64(b, 28, 0);
     },
     formats::kOk},
    // What qemu itself writes for a 0-byte image: read as a descriptor file.
    {"capacity_zero_with_descriptor", [](std::vector<uint8_t>& b) { put64(b, 12, 0); }, Status::unsupported_feature},
    {"cid_missing_reads_parent_cid",
     [](std::vector<uint8_t>& b) {
         set_descriptor(b, "# Disk DescriptorFile\nversion=1\nparentCID=89ab\n");
     },
     formats::kOk},
    {"parent_cid_first",
     [](std::vector<uint8_t>& b) { set_descriptor(b, "parentCID=ffffffff\nCID=1234\n"); }, formats::kOk},
    {"no_cid_at_all", [](std::vector<uint8_t>& b) { set_descriptor(b, "version=1\ncreateType=\"x\"\n"); },
     Status::image_invalid},
    {"parent_cid_missing", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=1234\n"); }, Status::image_invalid},
    {"cid_not_hex", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=zz\nparentCID=ffffffff\n"); },
     Status::image_invalid},
    {"cid_negative", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=-2\nparentCID=1\n"); }, formats::kOk},
    {"cid_0x_prefix_spaces", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=  0X1f\nparentCID=1\n"); },
     formats::kOk},
    {"cid_too_long", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=123456789abc\nparentCID=1\n"); },
     formats::kOk},
    {"cid_overflows_64_bits",
     [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=123456789abcdef0123\nparentCID=1\n"); }, formats::kOk},
    {"parent_hint_unclosed",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "parentFileNameHint=\"base.vmdk\n"); },
     Status::image_invalid},
    {"parent_hint_too_long",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "parentFileNameHint=\"" + std::string(4096, 'p') + "\"\n"); },
     Status::image_invalid},
    {"parent_hint_longest",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "parentFileNameHint=\"" + std::string(4095, 'p') + "\"\n"); },
     formats::kOk},
    // No NUL anywhere in the 20 sectors: qemu's own terminator bounds it.
    {"descriptor_fills_area",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + std::string(kDescBytes, 'A')); }, formats::kOk},
    {"cid_only_past_area",
     [](std::vector<uint8_t>& b) {
         set_descriptor(b, std::string(kDescBytes, 'A'));
         std::memcpy(b.data() + kDescAt + kDescBytes, "CID=1\n", 6);  // the directory sector, not descriptor
     },
     Status::image_invalid},
    // "CID" in the last bytes, where qemu would parse past its terminator.
    {"cid_at_very_end",
     [](std::vector<uint8_t>& b) {
         std::string t = std::string(kDescBytes - 4, 'A') + "CID";
         set_descriptor(b, t);
     },
     Status::image_invalid, false},
    {"cowd_magic", [](std::vector<uint8_t>& b) { std::memcpy(b.data(), "COWD", 4); }, Status::unsupported_feature,
     false},
    {"not_vmdk", [](std::vector<uint8_t>& b) { std::memcpy(b.data(), "QFI\xfb", 4); }, Status::image_invalid, false},
    {"text_descriptor_file",
     [](std::vector<uint8_t>& b) { b = bytes_of("# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"); },
     Status::unsupported_feature, false},
};

INSTANTIATE_TEST_SUITE_P(Files, VmdkReadBasicDamaged, ::testing::ValuesIn(kDamage),
                         [](const ::testing::TestParamInfo<Damage>& i) { return std::string(i.param.name); });

// ---- streams with the directory at the end (footer) ----------------------

std::vector<uint8_t> with_footer(std::vector<uint8_t> b, uint64_t footer_capacity) {
    std::vector<uint8_t> header(b.begin(), b.begin() + 512);
    put64(b, 56, ~uint64_t(0));  // gd_offset: at end
    put64(b, 12, 1);             // the footer's capacity must win
    std::vector<uint8_t> tail(3 * 512, 0);
    formats::store_le64(tail.data(), 7);  // footer marker value: ignored
    formats::store_le32(tail.data() + 12, 3);
    std::memcpy(tail.data() + 512, header.data(), 512);
    formats::store_le64(tail.data() + 512 + 12, footer_capacity);
    b.insert(b.end(), tail.begin(), tail.end());
    return b;
}

TEST(VmdkFooter, CapacityComesFromTheFooterAsInQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("s.vmdk");
    ASSERT_EQ(run_command("qemu-img create -q -f vmdk -o subformat=streamOptimized " + shell_quote(f) + " 64M").status, 0);
    std::vector<uint8_t> b = with_footer(read_file(f), 3 * 2048);
    ASSERT_TRUE(write_sparse(f, b));
    const QemuInfo q = qemu_info(f);
    ASSERT_TRUE(q.opened) << q.output;
    BasicImageInfo info{};
    ASSERT_EQ(read_basic(b, info), formats::kOk);
    EXPECT_EQ(info.virtual_size, 3 * MiB);
    EXPECT_EQ(info.virtual_size, q.virtual_size);
    EXPECT_EQ(info.cid, q.cid);
}

TEST(VmdkFooter, BadMarkersRefusedAsInQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("s.vmdk");
    ASSERT_EQ(run_command("qemu-img create -q -f vmdk -o subformat=streamOptimized " + shell_quote(f) + " 64M").status, 0);
    const std::vector<uint8_t> good = with_footer(read_file(f), 2048);
    const size_t eos = good.size() - 512;
    const size_t footer = good.size() - 1536;
    const std::vector<std::pair<size_t, uint8_t>> edits = {
        {footer + 12, 2},     // footer marker type
        {footer + 8, 1},      // footer marker size
        {footer + 512, 'X'},  // footer magic
        {eos, 1},             // end-of-stream value
        {eos + 12, 1},        // end-of-stream type
    };
    for (auto [off, val] : edits) {
        std::vector<uint8_t> b = good;
        b[off] = val;
        BasicImageInfo info{};
        EXPECT_EQ(read_basic(b, info), Status::image_invalid) << off;
        ASSERT_TRUE(write_sparse(f, b));
        EXPECT_FALSE(qemu_info(f).opened) << off;
    }
    // Too short to hold a footer at all.
    std::vector<uint8_t> tiny(good.begin(), good.begin() + 1024);
    BasicImageInfo info{};
    EXPECT_EQ(read_basic(tiny, info), Status::image_invalid);
}

// ---- random damage: never a read outside the file, never a crash ---------

TEST(VmdkReadBasicFuzz, RandomDamageStaysInBounds) {
    // A well-formed 1 MiB image to start from (as qemu lays it out).
    const std::vector<uint8_t> base = sparse_1m(kDesc);
    {
        BasicImageInfo info{};
        ASSERT_EQ(read_basic(base, info), formats::kOk);
        ASSERT_EQ(info.cid, 0x1234abcdu);
        ASSERT_EQ(info.virtual_size, MiB);
    }
    std::mt19937_64 rng(20240607);
    for (int iter = 0; iter < 4000; ++iter) {
        std::vector<uint8_t> b = base;
        const int edits = 1 + int(rng() % 8);
        for (int e = 0; e < edits; ++e) {
            const size_t region = rng() % 3;
            size_t off = region == 0 ? rng() % 80 : region == 1 ? kDescAt + rng() % 200 : rng() % b.size();
            b[off] = uint8_t(rng());
        }
        if (rng() % 4 == 0) put64(b, 56, ~uint64_t(0));  // exercise the footer path
        if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
        BasicImageInfo info{};
        const Status s = read_basic(b, info);
        if (s == formats::kOk) {
            EXPECT_EQ(info.virtual_size % 512, 0u);
            EXPECT_LE(info.virtual_size, uint64_t(INT64_MAX));
        }
        if (HasFailure()) {
            ADD_FAILURE() << "iteration " << iter;
            break;
        }
    }
}

}  // namespace
}  // namespace instar::testing::vmdk
