// vmdk_read_info against `qemu-img info --output=json` of the same file:
// images made by qemu-img create / convert and qemu-io, descriptors and
// headers edited by hand, damaged files. Every field the guest reports is
// compared with qemu's; a key qemu prints that the comparison does not know
// fails the test, so a field cannot be forgotten silently.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "abi/ops/info.h"
#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_info.h"
#include "formats/vmdk/vmdk_probe.h"
#include "memory_image.h"
#include "vmdk_test_support.h"

namespace instar::testing::vmdk {
namespace {

using formats::Status;
using nlohmann::json;

constexpr uint64_t MiB = 1024 * 1024;
constexpr size_t kDescAt = 512, kDescBytes = 10240;

template <uint32_t N>
std::string str(const abi::InfoString<N>& s) {
    return std::string(s.bytes, s.length);
}

struct Qemu {
    bool opened = false;
    json info;
    std::string output;
};

// What qemu makes of the file opened as vmdk (no probing, no backing file
// opened: info never opens it).
Qemu qemu_info(const std::string& path) {
    Qemu q;
    auto r = run("qemu-img info -U -f vmdk --output=json " + shell_quote(path));
    q.output = r.output;
    if (r.status != 0) return q;
    q.info = json::parse(r.output, nullptr, false);
    q.opened = !q.info.is_discarded();
    return q;
}

struct Result {
    Status status;
    abi::InfoResult info;
};

// The guest's view, through a source that fails the test on any read
// beyond the end of the file.
Result read_info(std::vector<uint8_t> bytes) {
    StrictSource src(std::move(bytes));
    Scratch scratch;
    Result r;
    // Stale bytes in the result must not survive.
    std::memset(&r.info, 0xa5, sizeof(r.info));
    r.status = formats::vmdk_read_info(src, scratch.arena, r.info);
    EXPECT_FALSE(src.out_of_bounds) << "read outside the file";
    return r;
}

void expect_only_keys(const json& obj, const std::set<std::string>& known, const std::string& where) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        EXPECT_TRUE(known.count(it.key())) << where << ": qemu shows \"" << it.key() << "\", not compared";
    }
}

// Field by field. Keys that come from the host (file names, actual-size)
// are only checked for presence.
void expect_same_as_qemu(const abi::InfoResult& r, const json& q) {
    expect_only_keys(q,
                     {"virtual-size", "filename", "cluster-size", "format", "actual-size", "format-specific",
                      "dirty-flag", "backing-filename", "full-backing-filename", "backing-filename-format"},
                     "top level");
    EXPECT_EQ(q.at("format"), "vmdk");
    EXPECT_EQ(r.format, uint32_t(abi::BackingFormat::vmdk));
    EXPECT_EQ(r.virtual_size, q.at("virtual-size").get<uint64_t>());
    ASSERT_EQ(bool(r.flags & abi::kInfoHasClusterSize), q.contains("cluster-size"));
    if (q.contains("cluster-size")) {
        EXPECT_EQ(r.cluster_size, q.at("cluster-size").get<uint64_t>());
    }
    EXPECT_EQ(q.at("dirty-flag"), false);
    EXPECT_FALSE(r.flags & abi::kInfoDirty);
    EXPECT_FALSE(r.flags & abi::kInfoEncrypted);

    ASSERT_EQ(bool(r.flags & abi::kInfoHasBacking), q.contains("backing-filename"));
    if (q.contains("backing-filename")) {
        EXPECT_EQ(str(r.backing_file), q.at("backing-filename").get<std::string>());
    }
    ASSERT_EQ(bool(r.flags & abi::kInfoHasBackingFormat), q.contains("backing-filename-format"));
    if (q.contains("backing-filename-format")) {
        EXPECT_EQ(str(r.backing_format), q.at("backing-filename-format").get<std::string>());
    }

    const json& fs = q.at("format-specific");
    EXPECT_EQ(fs.at("type"), "vmdk");
    const json& d = fs.at("data");
    expect_only_keys(d, {"cid", "parent-cid", "create-type", "extents"}, "format-specific data");
    EXPECT_EQ(r.vmdk.cid, d.at("cid").get<uint64_t>());
    EXPECT_EQ(r.vmdk.parent_cid, d.at("parent-cid").get<uint64_t>());
    EXPECT_EQ(str(r.vmdk.create_type), d.at("create-type").get<std::string>());
    const json& extents = d.at("extents");
    ASSERT_EQ(r.vmdk.extent_count, extents.size());
    for (size_t i = 0; i < extents.size(); ++i) {
        const json& x = extents[i];
        const abi::InfoVmdkExtent& e = r.vmdk.extents[i];
        expect_only_keys(x, {"virtual-size", "filename", "cluster-size", "format", "compressed"}, "extent");
        EXPECT_EQ(e.virtual_size, x.at("virtual-size").get<uint64_t>());
        ASSERT_EQ(bool(e.flags & abi::kVmdkExtentHasClusterSize), x.contains("cluster-size"));
        if (x.contains("cluster-size")) {
            EXPECT_EQ(e.cluster_size, x.at("cluster-size").get<uint64_t>());
        }
        // qemu prints "compressed" only when true.
        EXPECT_EQ(bool(e.flags & abi::kVmdkExtentCompressed), x.contains("compressed"));
        if (x.contains("compressed")) {
            EXPECT_EQ(x.at("compressed"), true);
        }
        EXPECT_EQ(str(e.format), x.at("format").get<std::string>());
        // The extent is the file qemu opened, named as the user named it:
        // the host's to print, so the guest leaves it empty.
        EXPECT_EQ(x.at("filename"), q.at("filename"));
        EXPECT_EQ(e.filename.length, 0u);
    }
}

// The parts of the result no field above covers must stay zero (the host
// refuses anything else).
void expect_clean(const abi::InfoResult& r) {
    EXPECT_EQ(r.reserved, 0u);
    EXPECT_EQ(r.snapshot_count, 0u);
    const auto* q = reinterpret_cast<const uint8_t*>(&r.qcow2);
    EXPECT_TRUE(std::all_of(q, q + sizeof(r.qcow2), [](uint8_t b) { return b == 0; }));
    EXPECT_EQ(r.vmdk.reserved, 0u);
    for (uint32_t i = 0; i < r.vmdk.extent_count; ++i) EXPECT_EQ(r.vmdk.extents[i].reserved, 0u);
    if (!(r.flags & abi::kInfoHasBacking)) {
        EXPECT_EQ(r.backing_file.length, 0u);
    }
}

// ---- images qemu made ------------------------------------------------------

struct MadeCase {
    const char* name;
    std::string script;  // run in a fresh directory; leaves img.vmdk there
};

void PrintTo(const MadeCase& c, std::ostream* os) { *os << c.name; }

class VmdkInfoQemuMade : public ::testing::TestWithParam<MadeCase> {};

TEST_P(VmdkInfoQemuMade, EveryFieldAsQemuReports) {
    VMDK_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    auto made = run("cd " + shell_quote(dir.file("")) + " && set -e && " + GetParam().script);
    ASSERT_EQ(made.status, 0) << made.output;
    const std::string f = dir.file("img.vmdk");
    const Qemu q = qemu_info(f);
    ASSERT_TRUE(q.opened) << q.output;

    const Result r = read_info(read_file(f));
    ASSERT_EQ(r.status, formats::kOk);
    expect_same_as_qemu(r.info, q.info);
    expect_clean(r.info);
}

const std::string kCreate = "qemu-img create -q -f vmdk ";
const std::string kStream = "-o subformat=streamOptimized ";
const std::string kData = "head -c 3000000 /dev/urandom > data.raw && ";

std::vector<MadeCase> made_cases() {
    return {
        {"sparse_1M", kCreate + "img.vmdk 1M"},
        {"sparse_511_bytes", kCreate + "img.vmdk 511"},
        {"sparse_2T", kCreate + "img.vmdk 2T"},
        {"adapter_lsilogic", kCreate + "-o adapter_type=lsilogic img.vmdk 1G"},
        {"adapter_buslogic", kCreate + "-o adapter_type=buslogic img.vmdk 1G"},
        {"adapter_legacyESX", kCreate + "-o adapter_type=legacyESX img.vmdk 1G"},
        {"compat6", kCreate + "-o compat6=on img.vmdk 1G"},
        {"hwversion", kCreate + "-o hwversion=10 img.vmdk 1G"},
        {"toolsversion", kCreate + "-o toolsversion=12345 img.vmdk 1G"},
        {"zeroed_grain", kCreate + "-o zeroed_grain=on img.vmdk 1G"},
        {"stream", kCreate + kStream + "img.vmdk 64M"},
        {"stream_2T", kCreate + kStream + "img.vmdk 2T"},
        {"child", kCreate + "base.vmdk 5M && " + kCreate + "-b base.vmdk -F vmdk img.vmdk"},
        {"child_absolute_hint", kCreate + "base.vmdk 5M && " + kCreate + "-b \"$PWD/base.vmdk\" -F vmdk img.vmdk"},
        {"child_of_child", kCreate + "a.vmdk 5M && " + kCreate + "-b a.vmdk -F vmdk b.vmdk && " + kCreate +
                               "-b b.vmdk -F vmdk img.vmdk 7M"},
        {"stream_child", kCreate + "base.vmdk 5M && " + kCreate + kStream + "-b base.vmdk -F vmdk img.vmdk"},
        {"convert_sparse_data", kData + "qemu-img convert -O vmdk data.raw img.vmdk"},
        {"convert_stream_data", kData + "qemu-img convert -O vmdk " + kStream + "data.raw img.vmdk"},
        {"convert_compat6_lsilogic", kData + "qemu-img convert -O vmdk -o compat6=on,adapter_type=lsilogic "
                                             "data.raw img.vmdk"},
        {"convert_with_backing",
         kData + "qemu-img convert -O vmdk data.raw base.vmdk && qemu-img convert -O vmdk -B base.vmdk -F vmdk data.raw img.vmdk"},
        {"qemu_io_writes", kCreate + "img.vmdk 10M && qemu-io -c 'write -P 0x11 0 1M' -c 'write -P 0x22 5M 64k' "
                                     "-c 'discard 0 64k' img.vmdk >/dev/null"},
        {"qemu_io_zeroed_grain", kCreate + "-o zeroed_grain=on img.vmdk 10M && qemu-io -c 'write -P 1 0 128k' "
                                           "-c 'write -z 0 64k' img.vmdk >/dev/null"},
        // A write into a child makes qemu give it a new CID.
        {"qemu_io_child", kCreate + "base.vmdk 5M && " + kCreate + "-b base.vmdk -F vmdk img.vmdk && "
                                                                    "qemu-io -c 'write -P 7 64k 4k' img.vmdk >/dev/null"},
    };
}

INSTANTIATE_TEST_SUITE_P(Images, VmdkInfoQemuMade, ::testing::ValuesIn(made_cases()),
                         [](const ::testing::TestParamInfo<MadeCase>& i) { return std::string(i.param.name); });

// ---- edited and damaged files ----------------------------------------------

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) { formats::store_le16(b.data() + off, v); }
void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) { formats::store_le32(b.data() + off, v); }
void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) { formats::store_le64(b.data() + off, v); }

// Header field offsets, as the on-disk layout has them.
constexpr size_t kVersion = 4, kFlags = 8, kCapacity = 12, kGranularity = 20, kDescOffset = 28, kDescSize = 36,
                 kGtes = 44, kRgdOffset = 48, kGdOffset = 56, kGrainOffset = 64, kCompress = 77;

void set_descriptor(std::vector<uint8_t>& b, const std::string& text) {
    std::memset(b.data() + kDescAt, 0, kDescBytes);
    std::memcpy(b.data() + kDescAt, text.data(), std::min(text.size(), kDescBytes));
}

const std::string kDesc =
    "# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n\n"
    "# Extent description\nRW 2048 SPARSE \"img.vmdk\"\n";

std::string with_hint(const std::string& hint) {
    return "# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=89abcdef\ncreateType=\"monolithicSparse\"\n"
           "parentFileNameHint=\"" +
           hint + "\"\n# Extent description\nRW 2048 SPARSE \"img.vmdk\"\n";
}

struct Edit {
    const char* name;
    void (*apply)(std::vector<uint8_t>&);
    Status expected;
    bool ask_qemu = true;  // false where qemu's own answer would come from reading out of bounds
    bool stream = false;   // start from a streamOptimized file instead of monolithicSparse
};

void PrintTo(const Edit& c, std::ostream* os) { *os << c.name; }

class VmdkInfoEdited : public ::testing::TestWithParam<Edit> {};

TEST_P(VmdkInfoEdited, AgreesWithQemu) {
    VMDK_REQUIRE_QEMU_IMG();
    const Edit& e = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("img.vmdk");
    ASSERT_EQ(run(kCreate + (e.stream ? kStream : "") + shell_quote(f) + " 1M").status, 0);
    std::vector<uint8_t> b = read_file(f);
    set_descriptor(b, kDesc);
    e.apply(b);

    Result r = read_info(b);
    EXPECT_EQ(r.status, e.expected);
    if (r.status == formats::kOk) expect_clean(r.info);

    // The probe `create -b` uses accepts exactly the same files.
    {
        StrictSource src(b);
        Scratch scratch;
        formats::BasicImageInfo basic{};
        const Status s = formats::vmdk_read_basic(src, scratch.arena, basic);
        EXPECT_EQ(s, r.status);
        if (s == formats::kOk && r.status == formats::kOk) {
            EXPECT_EQ(basic.virtual_size, r.info.virtual_size);
            EXPECT_EQ(basic.cid, r.info.vmdk.cid);
        }
    }

    if (!e.ask_qemu) return;
    ASSERT_TRUE(write_sparse(f, b));
    const Qemu q = qemu_info(f);
    // unsupported_feature: a valid image instar cannot report; qemu's
    // verdict is recorded in the case (qemu may open it).
    if (r.status == Status::unsupported_feature) return;
    EXPECT_EQ(q.opened, r.status == formats::kOk) << q.output;
    if (q.opened && r.status == formats::kOk) expect_same_as_qemu(r.info, q.info);
}

// Like TEST_P above but for files qemu opens and instar declines: qemu
// must really open them (else the case belongs with the refusals).
class VmdkInfoDeclined : public ::testing::TestWithParam<Edit> {};

TEST_P(VmdkInfoDeclined, QemuOpensInstarDeclines) {
    VMDK_REQUIRE_QEMU_IMG();
    const Edit& e = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("img.vmdk");
    ASSERT_EQ(run(kCreate + shell_quote(f) + " 1M").status, 0);
    std::vector<uint8_t> b = read_file(f);
    set_descriptor(b, kDesc);
    e.apply(b);
    EXPECT_EQ(read_info(b).status, Status::unsupported_feature);
    ASSERT_TRUE(write_sparse(f, b));
    const Qemu q = qemu_info(f);
    EXPECT_TRUE(q.opened) << q.output;
}

const Edit kEdits[] = {
    {"intact", [](std::vector<uint8_t>&) {}, formats::kOk},
    {"intact_stream", [](std::vector<uint8_t>&) {}, formats::kOk, true, true},

    // ---- what decides create type and compression: the header only
    {"create_type_garbage",
     [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=1\nparentCID=2\ncreateType=\"\x01\xff garbage\n"); },
     formats::kOk},
    {"create_type_says_stream",
     [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=1\nparentCID=2\ncreateType=\"streamOptimized\"\n"); },
     formats::kOk},
    {"create_type_says_flat_other_file",
     [](std::vector<uint8_t>& b) {
         set_descriptor(b, "CID=1\nparentCID=2\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/passwd\" 0\n");
     },
     formats::kOk},
    {"deflate_on_sparse", [](std::vector<uint8_t>& b) { put16(b, kCompress, 1); }, formats::kOk},
    {"unknown_compression", [](std::vector<uint8_t>& b) { put16(b, kCompress, 2); }, formats::kOk},
    {"stream_compression_off", [](std::vector<uint8_t>& b) { put16(b, kCompress, 0); }, formats::kOk, true, true},
    {"version_3_uncompressed", [](std::vector<uint8_t>& b) { put32(b, kVersion, 3); }, formats::kOk},
    {"version_0", [](std::vector<uint8_t>& b) { put32(b, kVersion, 0); }, formats::kOk},
    {"version_4", [](std::vector<uint8_t>& b) { put32(b, kVersion, 4); }, Status::unsupported_feature},

    // ---- descriptor text
    {"extent_lines_garbage",
     [](std::vector<uint8_t>& b) {
         set_descriptor(b, "CID=abc\nparentCID=def\nRW -5 SPARSE \"x\nRW 99999999999999999999999 ZZZ \"\"\n"
                           "\r\r\r\t\t\nRW 1 FLAT \"f\" -1\n" +
                               std::string(3000, '\n'));
     },
     formats::kOk},
    {"nul_before_cid",
     [](std::vector<uint8_t>& b) {
         set_descriptor(b, "version=1\n");
         std::memcpy(b.data() + kDescAt + 20, "CID=1\nparentCID=2\n", 18);
     },
     Status::image_invalid},
    {"cid_missing", [](std::vector<uint8_t>& b) { set_descriptor(b, "version=1\nparentcid=1\n"); },
     Status::image_invalid},
    {"cid_missing_reads_parent_cid", [](std::vector<uint8_t>& b) { set_descriptor(b, "parentCID=89ab\n"); },
     formats::kOk},
    {"parent_cid_missing", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=1234\n"); }, Status::image_invalid},
    // sscanf skips the newline and finds no digit in "parentCID".
    {"cid_empty_value", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=\nparentCID=1\n"); },
     Status::image_invalid},
    {"cid_spaces_and_sign", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID= \t-0x10\nparentCID=+7f\n"); },
     formats::kOk},
    {"cid_overflow", [](std::vector<uint8_t>& b) { set_descriptor(b, "CID=fffffffff\nparentCID=1ffffffff\n"); },
     formats::kOk},
    {"descriptor_fills_area",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + std::string(kDescBytes, '#')); }, formats::kOk},
    {"descriptor_all_ff", [](std::vector<uint8_t>& b) { std::memset(b.data() + kDescAt, 0xff, kDescBytes); },
     Status::image_invalid},
    // The header's descriptor offset and size are not what qemu reads an
    // embedded descriptor by: it always reads the 20 sectors after the header.
    {"desc_offset_past_eof", [](std::vector<uint8_t>& b) { put64(b, kDescOffset, 1u << 30); }, formats::kOk},
    {"desc_offset_huge", [](std::vector<uint8_t>& b) { put64(b, kDescOffset, ~uint64_t(0)); }, formats::kOk},
    {"desc_size_huge", [](std::vector<uint8_t>& b) { put64(b, kDescSize, uint64_t(1) << 62); }, formats::kOk},
    {"desc_size_zero", [](std::vector<uint8_t>& b) { put64(b, kDescSize, 0); }, formats::kOk},

    // ---- parentFileNameHint
    {"hint", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint("base.vmdk")); }, formats::kOk},
    {"hint_empty", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint("")); }, formats::kOk},
    {"hint_spaces_newline_tab",
     [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint(" a b\n\tc\r.vmdk ")); }, formats::kOk},
    {"hint_utf8", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint("d\xc3\xa9j\xc3\xa0/\xe2\x82\xac.vmdk")); },
     formats::kOk},
    {"hint_escapes", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint("\\\\..\\u0000\x1b[31m")); },
     formats::kOk},
    {"hint_traversal", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint("../../etc/passwd")); },
     formats::kOk},
    {"hint_json_protocol",
     [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint("json:{'driver': 'file', 'filename': '/x'}")); },
     formats::kOk},
    {"hint_longest_reported",
     [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint(std::string(abi::kInfoPathMax, 'h'))); },
     formats::kOk},
    {"hint_unclosed", [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "parentFileNameHint=\"base.vmdk\n"); },
     Status::image_invalid},
    {"hint_key_at_end", [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "parentFileNameHint"); },
     Status::image_invalid},
    {"hint_4096", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint(std::string(4096, 'p'))); },
     Status::image_invalid},
    {"hint_no_equals",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "parentFileNameHint  x\"\n"); }, formats::kOk},
    {"hint_key_in_comment",
     [](std::vector<uint8_t>& b) { set_descriptor(b, kDesc + "# parentFileNameHint=\"c.vmdk\"\n"); }, formats::kOk},

    // ---- header damage
    {"truncated_to_3_bytes", [](std::vector<uint8_t>& b) { b.resize(3); }, Status::image_invalid},
    {"truncated_to_header", [](std::vector<uint8_t>& b) { b.resize(512); }, Status::image_invalid},
    {"truncated_inside_descriptor", [](std::vector<uint8_t>& b) { b.resize(600); }, Status::image_invalid},
    {"truncated_one_sector_short", [](std::vector<uint8_t>& b) { b.erase(b.end() - 512, b.end()); },
     Status::image_invalid},
    {"truncated_stream", [](std::vector<uint8_t>& b) { b.resize(2048); }, Status::image_invalid, true, true},
    {"granularity_0", [](std::vector<uint8_t>& b) { put64(b, kGranularity, 0); }, Status::image_invalid},
    {"granularity_7", [](std::vector<uint8_t>& b) { put64(b, kGranularity, 7); }, formats::kOk},
    {"granularity_1", [](std::vector<uint8_t>& b) { put64(b, kGranularity, 1); }, formats::kOk},
    {"granularity_max", [](std::vector<uint8_t>& b) { put64(b, kGranularity, 0x200000); }, formats::kOk},
    {"granularity_max_plus_1", [](std::vector<uint8_t>& b) { put64(b, kGranularity, 0x200001); },
     Status::image_invalid},
    {"granularity_2_pow_32", [](std::vector<uint8_t>& b) { put64(b, kGranularity, uint64_t(1) << 32); },
     Status::image_invalid},
    {"gtes_0", [](std::vector<uint8_t>& b) { put32(b, kGtes, 0); }, Status::image_invalid},
    {"gtes_1", [](std::vector<uint8_t>& b) { put32(b, kGtes, 1); }, formats::kOk},
    {"gtes_513", [](std::vector<uint8_t>& b) { put32(b, kGtes, 513); }, Status::image_invalid},
    {"grain_offset_past_eof", [](std::vector<uint8_t>& b) { put64(b, kGrainOffset, 1u << 20); },
     Status::image_invalid},
    {"grain_offset_0", [](std::vector<uint8_t>& b) { put64(b, kGrainOffset, 0); }, formats::kOk},
    {"capacity_0_no_descriptor",
     [](std::vector<uint8_t>& b) {
         put64(b, kCapacity, 0);
         put64(b, kDescOffset, 0);
     },
     formats::kOk},
    {"capacity_1_sector", [](std::vector<uint8_t>& b) { put64(b, kCapacity, 1); }, formats::kOk},
    {"capacity_512T", [](std::vector<uint8_t>& b) { put64(b, kCapacity, uint64_t(1) << 40); }, formats::kOk},
    {"capacity_directory_too_big", [](std::vector<uint8_t>& b) { put64(b, kCapacity, uint64_t(1) << 42); },
     Status::image_invalid},
    // qemu keeps the directory size in 32 bits: 2^36 entries truncate to 0.
    {"capacity_directory_wraps_32_bits", [](std::vector<uint8_t>& b) { put64(b, kCapacity, uint64_t(1) << 52); },
     formats::kOk},
    // The largest disk the block layer takes, and one sector more.
    {"capacity_at_length_limit",
     [](std::vector<uint8_t>& b) {
         put64(b, kCapacity, 0x3fffffffe00000);
         put64(b, kGranularity, 0x200000);
     },
     formats::kOk},
    {"capacity_past_length_limit",
     [](std::vector<uint8_t>& b) {
         put64(b, kCapacity, 0x3fffffffe00001);
         put64(b, kGranularity, 0x200000);
     },
     Status::image_invalid},
    {"capacity_all_ones", [](std::vector<uint8_t>& b) { put64(b, kCapacity, ~uint64_t(0)); }, Status::image_invalid},
    // Grain directories: read whole at open, zeros past the end of the file.
    {"gd_past_eof", [](std::vector<uint8_t>& b) { put64(b, kGdOffset, 1u << 30); }, formats::kOk},
    {"gd_past_length_limit", [](std::vector<uint8_t>& b) { put64(b, kGdOffset, uint64_t(1) << 54); },
     Status::image_invalid},
    {"gd_just_below_length_limit",
     [](std::vector<uint8_t>& b) { put64(b, kGdOffset, (uint64_t(0x7fffffffc0000000) >> 9) - 1); }, formats::kOk},
    {"gd_at_length_limit", [](std::vector<uint8_t>& b) { put64(b, kGdOffset, uint64_t(0x7fffffffc0000000) >> 9); },
     Status::image_invalid},
    {"gd_offset_wraps_to_sector_1", [](std::vector<uint8_t>& b) { put64(b, kGdOffset, (uint64_t(1) << 55) + 1); },
     formats::kOk},
    {"rgd_past_length_limit", [](std::vector<uint8_t>& b) { put64(b, kRgdOffset, uint64_t(1) << 54); },
     Status::image_invalid},
    {"rgd_past_length_limit_flag_off",
     [](std::vector<uint8_t>& b) {
         put64(b, kRgdOffset, uint64_t(1) << 54);
         put32(b, kFlags, 1);
     },
     formats::kOk},
    {"rgd_wraps_to_0", [](std::vector<uint8_t>& b) { put64(b, kRgdOffset, uint64_t(1) << 55); }, formats::kOk},
    {"flags_all_set", [](std::vector<uint8_t>& b) { put32(b, kFlags, 0xffffffff); }, formats::kOk},

    // ---- not a sparse file qemu opens
    {"capacity_0_with_descriptor", [](std::vector<uint8_t>& b) { put64(b, kCapacity, 0); },
     Status::unsupported_feature},
    {"cowd_magic", [](std::vector<uint8_t>& b) { std::memcpy(b.data(), "COWD", 4); }, Status::unsupported_feature,
     false},
    {"not_vmdk", [](std::vector<uint8_t>& b) { std::memcpy(b.data(), "QFI\xfb", 4); }, Status::image_invalid},
};

INSTANTIATE_TEST_SUITE_P(Files, VmdkInfoEdited, ::testing::ValuesIn(kEdits),
                         [](const ::testing::TestParamInfo<Edit>& i) { return std::string(i.param.name); });

const Edit kDeclined[] = {
    // qemu takes a name up to 4095 bytes; the result holds kInfoPathMax.
    {"hint_longer_than_result",
     [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint(std::string(abi::kInfoPathMax + 1, 'h'))); },
     Status::unsupported_feature},
    {"hint_4095", [](std::vector<uint8_t>& b) { set_descriptor(b, with_hint(std::string(4095, 'p'))); },
     Status::unsupported_feature},
};

INSTANTIATE_TEST_SUITE_P(Files, VmdkInfoDeclined, ::testing::ValuesIn(kDeclined),
                         [](const ::testing::TestParamInfo<Edit>& i) { return std::string(i.param.name); });

// ---- streams whose header is in the footer ----------------------------------

std::vector<uint8_t> with_footer(std::vector<uint8_t> b, uint64_t footer_capacity, uint16_t footer_compression) {
    std::vector<uint8_t> header(b.begin(), b.begin() + 512);
    put64(b, kGdOffset, ~uint64_t(0));
    put64(b, kCapacity, 1);   // the footer's capacity must win
    put16(b, kCompress, 0);   // and its compression
    std::vector<uint8_t> tail(3 * 512, 0);
    formats::store_le32(tail.data() + 12, 3);
    std::memcpy(tail.data() + 512, header.data(), 512);
    formats::store_le64(tail.data() + 512 + kCapacity, footer_capacity);
    formats::store_le16(tail.data() + 512 + kCompress, footer_compression);
    b.insert(b.end(), tail.begin(), tail.end());
    return b;
}

TEST(VmdkInfoFooter, FieldsComeFromTheFooterAsInQemu) {
    VMDK_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("s.vmdk");
    ASSERT_EQ(run(kCreate + kStream + shell_quote(f) + " 64M").status, 0);
    for (uint16_t compression : {0, 1}) {
        std::vector<uint8_t> b = with_footer(read_file(f), 3 * 2048, compression);
        ASSERT_TRUE(write_sparse(dir.file("footer.vmdk"), b));
        const Qemu q = qemu_info(dir.file("footer.vmdk"));
        ASSERT_TRUE(q.opened) << q.output;
        const Result r = read_info(b);
        ASSERT_EQ(r.status, formats::kOk);
        EXPECT_EQ(r.info.virtual_size, 3 * MiB);
        EXPECT_EQ(str(r.info.vmdk.create_type), compression ? "streamOptimized" : "monolithicSparse");
        expect_same_as_qemu(r.info, q.info);
    }
    // A footer whose own directory is "at the end" again: qemu cannot read
    // the directory there.
    std::vector<uint8_t> b = with_footer(read_file(f), 2048, 1);
    put64(b, b.size() - 1024 + kGdOffset, ~uint64_t(0));
    EXPECT_EQ(read_info(b).status, Status::image_invalid);
    ASSERT_TRUE(write_sparse(dir.file("footer.vmdk"), b));
    EXPECT_FALSE(qemu_info(dir.file("footer.vmdk")).opened);
}

// ---- files whose data is elsewhere ------------------------------------------

// qemu opens these (the extents are beside them); the guest cannot, as it
// is never given another file, and says so instead of guessing.
TEST(VmdkInfoOtherFiles, DescriptorFilesAreUnsupported) {
    VMDK_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    for (const char* sub : {"monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"}) {
        const std::string f = dir.file(std::string(sub) + ".vmdk");
        ASSERT_EQ(run(kCreate + "-o subformat=" + sub + " " + shell_quote(f) + " 3G").status, 0);
        EXPECT_TRUE(qemu_info(f).opened) << sub;
        const Result r = read_info(read_file(f));
        EXPECT_EQ(r.status, Status::unsupported_feature) << sub;
        expect_clean(r.info);
        EXPECT_EQ(r.info.format, 0u);
    }
    // A descriptor naming a sparse extent that is a complete image itself.
    ASSERT_EQ(run(kCreate + shell_quote(dir.file("sparse.vmdk")) + " 1M").status, 0);
    const std::string desc = dir.file("desc.vmdk");
    {
        std::FILE* fp = std::fopen(desc.c_str(), "w");
        ASSERT_NE(fp, nullptr);
        std::fputs("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
                   "createType=\"twoGbMaxExtentSparse\"\nRW 2048 SPARSE \"sparse.vmdk\"\n",
                   fp);
        std::fclose(fp);
    }
    EXPECT_TRUE(qemu_info(desc).opened);
    EXPECT_EQ(read_info(read_file(desc)).status, Status::unsupported_feature);
}

// ---- random damage -----------------------------------------------------------

// Never a read outside the file, never a crash, and info agrees with the
// probe on every file either accepts.
TEST(VmdkInfoFuzz, RandomDamageStaysInBoundsAndMatchesTheProbe) {
    std::vector<uint8_t> base(65536, 0);
    std::memcpy(base.data(), "KDMV", 4);
    put32(base, kVersion, 1);
    put32(base, kFlags, 3);
    put64(base, kCapacity, 2048);
    put64(base, kGranularity, 128);
    put64(base, kDescOffset, 1);
    put64(base, kDescSize, 20);
    put32(base, kGtes, 512);
    put64(base, kRgdOffset, 21);
    put64(base, kGdOffset, 26);
    put64(base, kGrainOffset, 128);
    set_descriptor(base, with_hint("base.vmdk"));
    {
        const Result r = read_info(base);
        ASSERT_EQ(r.status, formats::kOk);
        ASSERT_EQ(str(r.info.backing_file), "base.vmdk");
        ASSERT_EQ(r.info.virtual_size, MiB);
    }
    std::mt19937_64 rng(0x766d646b);
    const size_t hot[] = {kVersion, kFlags, kCapacity, kGranularity, kDescOffset, kGtes, kRgdOffset, kGdOffset,
                          kGrainOffset, kCompress};
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<uint8_t> b = base;
        const int edits = 1 + int(rng() % 6);
        for (int e = 0; e < edits && !b.empty(); ++e) {
            size_t at = 0;
            switch (rng() % 4) {
            case 0: at = hot[rng() % std::size(hot)] + rng() % 8; break;
            case 1: at = kDescAt + rng() % kDescBytes; break;
            case 2: at = rng() % 1024; break;
            default: b.resize(rng() % b.size()); continue;
            }
            if (at < b.size()) b[at] = uint8_t(rng());
        }
        const Result r = read_info(b);
        StrictSource src(b);
        Scratch scratch;
        formats::BasicImageInfo basic{};
        const Status s = formats::vmdk_read_basic(src, scratch.arena, basic);
        // Info refuses on its own only a backing name too long for the
        // result, which the probe does not read.
        if (r.status == Status::unsupported_feature && s == formats::kOk) {
            EXPECT_GT(std::string(reinterpret_cast<const char*>(b.data() + kDescAt), kDescBytes).find(
                          "parentFileNameHint"),
                      size_t(0)) << iter;
            continue;
        }
        ASSERT_EQ(r.status, s) << iter;
        if (r.status != formats::kOk) continue;
        EXPECT_EQ(r.info.virtual_size, basic.virtual_size);
        EXPECT_EQ(r.info.vmdk.cid, basic.cid);
        EXPECT_EQ(r.info.vmdk.extents[0].virtual_size, r.info.virtual_size);
        EXPECT_LE(r.info.backing_file.length, abi::kInfoPathMax);
        expect_clean(r.info);
    }
}

}  // namespace
}  // namespace instar::testing::vmdk
