// vmdk_read_info against `qemu-img info --output=json` of the same file:
// images made by qemu-img create / convert and qemu-io, descriptors and
// headers edited by hand, damaged files. Every field the guest reports is
// compared with qemu's; a key qemu prints that the comparison does not know
// fails the test, so a field cannot be forgotten silently.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
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

template <uint32_t N>
std::string str(const abi::InfoString<N>& s) {
    return std::string(s.bytes, s.length);
}

// What qemu makes of the file opened as vmdk (no probing, no backing file
// opened: info never opens it).
QemuJson qemu_info(const std::string& path) { return qemu_info_json(path, "vmdk", "-U"); }

struct Result {
    Status status;
    abi::InfoResult info;
    std::vector<abi::InfoVmdkExtent> extents;
};

// Before the host has attached any extent file.
class NoExtentFiles final : public formats::VmdkExtentFiles {
public:
    uint32_t count() const override { return 0; }
    Status read(uint32_t, Reader&) override {
        ADD_FAILURE() << "read an extent file that is not there";
        return Status::internal;
    }
};

// The guest's view, through a source that fails the test on any read
// beyond the end of the file.
Result read_info(std::vector<uint8_t> bytes, formats::VmdkExtentFiles& files, CollectedRecords& records) {
    StrictSource src(std::move(bytes));
    // A descriptor file takes up to 1 MiB of scratch, as in the guest.
    std::vector<uint8_t> mem(src.size() > (256u << 10) ? (4u << 20) : (1u << 20));
    formats::Arena arena(mem.data(), mem.size());
    Result r;
    // Stale bytes in the result must not survive.
    std::memset(&r.info, 0xa5, sizeof(r.info));
    r.status = formats::vmdk_read_info(src, arena, files, records, r.info);
    EXPECT_FALSE(src.out_of_bounds) << "read outside the file";
    r.extents = records.of<abi::InfoVmdkExtent>(abi::InfoRecord::vmdk_extent);
    return r;
}

Result read_info(std::vector<uint8_t> bytes) {
    NoExtentFiles none;
    CollectedRecords records;
    return read_info(std::move(bytes), none, records);
}

void expect_only_keys(const json& obj, const std::set<std::string>& known, const std::string& where) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        EXPECT_TRUE(known.count(it.key())) << where << ": qemu shows \"" << it.key() << "\", not compared";
    }
}

// Field by field. Keys that come from the host (file names, actual-size)
// are only checked for presence, or for extents how the guest named them.
void expect_same_as_qemu(const abi::InfoResult& r, const std::vector<abi::InfoVmdkExtent>& found, const json& q) {
    expect_only_keys(q,
                     {"virtual-size", "filename", "cluster-size", "format", "actual-size", "format-specific",
                      "dirty-flag", "backing-filename", "full-backing-filename", "backing-filename-format"},
                     "top level");
    EXPECT_EQ(q.at("format"), "vmdk");
    EXPECT_EQ(r.format, uint32_t(abi::Format::vmdk));
    EXPECT_EQ(r.virtual_size, q.at("virtual-size").get<uint64_t>());
    ASSERT_EQ(bool(r.flags & abi::kInfoHasClusterSize), q.contains("cluster-size"));
    if (q.contains("cluster-size")) {
        EXPECT_EQ(r.cluster_size, q.at("cluster-size").get<uint64_t>());
    }
    // qemu has no dirty flag to show when extents differ in kind.
    ASSERT_EQ(!q.contains("dirty-flag"), bool(r.vmdk.flags & abi::kVmdkMixedExtents));
    if (q.contains("dirty-flag")) {
        EXPECT_EQ(q.at("dirty-flag"), false);
    }
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
    ASSERT_EQ(found.size(), extents.size());
    for (size_t i = 0; i < extents.size(); ++i) {
        const json& x = extents[i];
        const abi::InfoVmdkExtent& e = found[i];
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
        // The extent is the file qemu opened, named as the user named it
        // (a test names images by absolute path): the image itself, whose
        // name is the host's to print, or the descriptor's name beside it.
        const std::string image = q.at("filename");
        if (e.filename.length == 0) {
            EXPECT_EQ(x.at("filename"), image);
        } else {
            const std::string name = str(e.filename);
            EXPECT_EQ(x.at("filename"), name[0] == '/' ? name : image.substr(0, image.rfind('/') + 1) + name);
        }
    }
}

void expect_same_as_qemu(const Result& r, const json& q) { expect_same_as_qemu(r.info, r.extents, q); }

// The parts of the result no field above covers must stay zero (the host
// refuses anything else).
void expect_clean(const abi::InfoResult& r) {
    EXPECT_EQ(r.reserved, 0u);
    EXPECT_EQ(r.snapshot_count, 0u);
    const auto* q = reinterpret_cast<const uint8_t*>(&r.qcow2);
    EXPECT_TRUE(std::all_of(q, q + sizeof(r.qcow2), [](uint8_t b) { return b == 0; }));
    EXPECT_EQ(r.vmdk.flags & ~abi::kVmdkMixedExtents, 0u);
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
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    auto made = run_command("cd " + shell_quote(dir.file("")) + " && set -e && " + GetParam().script);
    ASSERT_EQ(made.status, 0) << made.output;
    const std::string f = dir.file("img.vmdk");
    const QemuJson q = qemu_info(f);
    ASSERT_TRUE(q.ok) << q.text;

    const Result r = read_info(read_file(f));
    ASSERT_EQ(r.status, formats::kOk);
    expect_same_as_qemu(r, q.json);
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
    INSTAR_REQUIRE_QEMU_IMG();
    const Edit& e = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("img.vmdk");
    std::vector<uint8_t> b = qemu_made_1m(f, e.stream);
    ASSERT_FALSE(b.empty());
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
    const QemuJson q = qemu_info(f);
    // unsupported_feature: a valid image instar cannot report; qemu's
    // verdict is recorded in the case (qemu may open it).
    if (r.status == Status::unsupported_feature) return;
    EXPECT_EQ(q.ok, r.status == formats::kOk) << q.text;
    if (q.ok && r.status == formats::kOk) expect_same_as_qemu(r, q.json);
}

// Like TEST_P above but for files qemu opens and instar declines: qemu
// must really open them (else the case belongs with the refusals).
class VmdkInfoDeclined : public ::testing::TestWithParam<Edit> {};

TEST_P(VmdkInfoDeclined, QemuOpensInstarDeclines) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Edit& e = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("img.vmdk");
    std::vector<uint8_t> b = qemu_made_1m(f);
    ASSERT_FALSE(b.empty());
    e.apply(b);
    EXPECT_EQ(read_info(b).status, Status::unsupported_feature);
    ASSERT_TRUE(write_sparse(f, b));
    const QemuJson q = qemu_info(f);
    EXPECT_TRUE(q.ok) << q.text;
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
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("s.vmdk");
    ASSERT_EQ(run_command(kCreate + kStream + shell_quote(f) + " 64M").status, 0);
    for (uint16_t compression : {0, 1}) {
        std::vector<uint8_t> b = with_footer(read_file(f), 3 * 2048, compression);
        ASSERT_TRUE(write_sparse(dir.file("footer.vmdk"), b));
        const QemuJson q = qemu_info(dir.file("footer.vmdk"));
        ASSERT_TRUE(q.ok) << q.text;
        const Result r = read_info(b);
        ASSERT_EQ(r.status, formats::kOk);
        EXPECT_EQ(r.info.virtual_size, 3 * MiB);
        EXPECT_EQ(str(r.info.vmdk.create_type), compression ? "streamOptimized" : "monolithicSparse");
        expect_same_as_qemu(r, q.json);
    }
    // A footer whose own directory is "at the end" again: qemu cannot read
    // the directory there.
    std::vector<uint8_t> b = with_footer(read_file(f), 2048, 1);
    put64(b, b.size() - 1024 + kGdOffset, ~uint64_t(0));
    EXPECT_EQ(read_info(b).status, Status::image_invalid);
    ASSERT_TRUE(write_sparse(dir.file("footer.vmdk"), b));
    EXPECT_FALSE(qemu_info(dir.file("footer.vmdk")).ok);
}

// ---- descriptor files: extents in other files --------------------------------

// The extent files as the host attaches them: each name the first run
// gave, beside the descriptor (as is when absolute), read through a source
// that fails the test on a read past its end.
class DirExtentFiles final : public formats::VmdkExtentFiles {
public:
    DirExtentFiles(std::string dir, std::vector<std::string> names) : dir_(std::move(dir)), names_(std::move(names)) {}

    uint32_t count() const override { return uint32_t(names_.size()); }

    Status read(uint32_t index, Reader& reader) override {
        if (index >= names_.size()) {
            ADD_FAILURE() << "extent file " << index << " of " << names_.size();
            return Status::internal;
        }
        read_files.push_back(index);
        const std::string& n = names_[index];
        StrictSource src(read_file(n[0] == '/' ? n : dir_ + "/" + n));
        const Status s = reader.read(src);
        EXPECT_FALSE(src.out_of_bounds) << "read outside extent file " << n;
        return s;
    }

    std::vector<uint32_t> read_files;

private:
    std::string dir_;
    std::vector<std::string> names_;
};

// Both runs of the guest on a descriptor file, as the host drives them.
struct TwoRuns {
    Result first;
    std::vector<std::string> names;
    Result second;  // status: the first run's when it asked for no files
    std::vector<uint32_t> read_files;
    Status status() const { return second.status; }
};

TwoRuns read_descriptor_file(const std::string& path) {
    TwoRuns t;
    const std::vector<uint8_t> bytes = read_file(path);
    NoExtentFiles none;
    CollectedRecords listed;
    t.first = read_info(bytes, none, listed);
    t.second.status = t.first.status;
    if (t.first.status != formats::kOk) return t;
    // The first answer is the list of files and nothing else.
    const abi::InfoResult& r = t.first.info;
    EXPECT_EQ(r.format, uint32_t(abi::Format::vmdk));
    EXPECT_EQ(r.flags, abi::kInfoNeedsExtentFiles);
    abi::InfoResult rest = r;
    rest.format = rest.flags = rest.vmdk.extent_count = 0;
    const auto* p = reinterpret_cast<const uint8_t*>(&rest);
    EXPECT_TRUE(std::all_of(p, p + sizeof rest, [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(t.first.extents.empty());
    for (const auto& f : listed.of<abi::InfoVmdkExtentFile>(abi::InfoRecord::vmdk_extent_file)) {
        t.names.push_back(str(f.name));
    }
    EXPECT_EQ(listed.records.size(), t.names.size()) << "records of another kind";
    if (r.vmdk.extent_count > abi::kInfoMaxVmdkExtents) {
        EXPECT_TRUE(t.names.empty());
        t.second.status = Status::unsupported_feature;  // the host refuses by the count
        return t;
    }
    EXPECT_EQ(r.vmdk.extent_count, t.names.size());

    DirExtentFiles files(path.substr(0, path.rfind('/')), t.names);
    CollectedRecords records;
    t.second = read_info(bytes, files, records);
    t.read_files = files.read_files;
    EXPECT_EQ(records.records.size(), t.second.extents.size()) << "records of another kind";
    if (t.second.status == formats::kOk) {
        EXPECT_FALSE(t.second.info.flags & abi::kInfoNeedsExtentFiles);
        // The extents are the files asked for, in order; flat ones are
        // never read.
        EXPECT_EQ(t.second.extents.size(), t.names.size());
        for (size_t i = 0; i < t.second.extents.size() && i < t.names.size(); ++i) {
            EXPECT_EQ(str(t.second.extents[i].filename), t.names[i]);
        }
        for (uint32_t i : t.read_files) {
            const std::string type = str(t.second.extents.at(i).format);
            EXPECT_TRUE(type != "FLAT" && type != "VMFS") << "read flat extent " << i;
        }
        expect_clean(t.second.info);
    }
    return t;
}

std::string descriptor(const std::string& create_type, const std::string& extents,
                       const std::string& head = "CID=12345678\nparentCID=ffffffff\n") {
    return "# Disk DescriptorFile\nversion=1\n" + head + "createType=\"" + create_type + "\"\n\n# Extent description\n" +
           extents + "\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"4\"\n";
}

// A VMDK3 (ESX 2.x) sparse extent, which qemu-img cannot make.
std::vector<uint8_t> cowd_extent(uint32_t sectors, uint32_t granularity, uint32_t l1_entries) {
    std::vector<uint8_t> b(4096, 0);
    std::memcpy(b.data(), "COWD", 4);
    put32(b, 4, 1);  // version
    put32(b, 8, 3);  // flags
    put32(b, 12, sectors);
    put32(b, 16, granularity);
    put32(b, 20, 4);  // grain directory at sector 4
    put32(b, 24, l1_entries);
    return b;
}

// An ESXi seSparse extent, which qemu-img cannot make either.
std::vector<uint8_t> se_sparse_extent(uint64_t sectors) {
    std::vector<uint8_t> b(4096, 0);
    put64(b, 0, 0xcafebabe);
    put64(b, 8, 0x200000001);
    put64(b, 16, sectors);
    put64(b, 24, 8);    // grain: 8 sectors
    put64(b, 32, 64);   // grain table: 64 sectors
    put64(b, 80, 1);    // volatile header at sector 1
    put64(b, 128, 2);   // grain directory at sector 2,
    put64(b, 136, 1);   // one sector long
    put64(b, 512, 0xcafecafe);
    return b;
}

struct DescCase {
    const char* name;
    // Run in a fresh directory (its path in $D); leaves img.vmdk there.
    std::string script;
    // Files the script cannot make, written first.
    std::vector<std::pair<std::string, std::vector<uint8_t>>> files = {};
};

void PrintTo(const DescCase& c, std::ostream* os) { *os << c.name; }

void make_case(const TempDir& dir, const DescCase& c) {
    for (const auto& [name, bytes] : c.files) ASSERT_TRUE(write_sparse(dir.file(name), bytes)) << name;
    const auto made = run_command("cd " + shell_quote(dir.file("")) + " && D=\"$PWD\" && set -e && " + c.script);
    ASSERT_EQ(made.status, 0) << made.output;
}

class VmdkDescriptorQemuMade : public ::testing::TestWithParam<DescCase> {};

TEST_P(VmdkDescriptorQemuMade, EveryFieldAsQemuReports) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    make_case(dir, GetParam());
    const std::string f = dir.file("img.vmdk");
    const QemuJson q = qemu_info(f);
    ASSERT_TRUE(q.ok) << q.text;
    const TwoRuns t = read_descriptor_file(f);
    ASSERT_EQ(t.first.status, formats::kOk);
    ASSERT_EQ(t.status(), formats::kOk);
    expect_same_as_qemu(t.second, q.json);
}

// A descriptor line per extent, written by hand.
std::string desc_script(const std::string& create_type, const std::string& extents, const std::string& head = "") {
    std::string text = head.empty() ? descriptor(create_type, extents) : descriptor(create_type, extents, head);
    return "printf '%s' " + shell_quote(text) + " > img.vmdk";
}

const std::string kMakeFlat = "truncate -s 1M flat.raw && ";
const std::string kMakeSparse = kCreate + "sparse.vmdk 3M && ";

std::vector<DescCase> desc_cases() {
    const std::string split = "-o subformat=twoGbMaxExtentSparse ";
    const std::string split_flat = "-o subformat=twoGbMaxExtentFlat ";
    return {
        {"monolithicFlat_1M", kCreate + "-o subformat=monolithicFlat img.vmdk 1M"},
        {"monolithicFlat_3G", kCreate + "-o subformat=monolithicFlat img.vmdk 3G"},
        {"monolithicFlat_odd_size", kCreate + "-o subformat=monolithicFlat img.vmdk 1000000"},
        {"twoGbMaxExtentSparse_1M", kCreate + split + "img.vmdk 1M"},
        {"twoGbMaxExtentSparse_4G", kCreate + split + "img.vmdk 4G"},
        {"twoGbMaxExtentSparse_5G", kCreate + split + "img.vmdk 5G"},
        {"twoGbMaxExtentSparse_21G", kCreate + split + "img.vmdk 21G"},
        {"twoGbMaxExtentSparse_zeroed_grain", kCreate + split + "-o zeroed_grain=on img.vmdk 3G"},
        {"twoGbMaxExtentFlat_5G", kCreate + split_flat + "img.vmdk 5G"},
        {"twoGbMaxExtentSparse_child",
         kCreate + "base.vmdk 5M && " + kCreate + split + "-b base.vmdk -F vmdk img.vmdk"},
        {"twoGbMaxExtentSparse_written",
         kCreate + split + "img.vmdk 3G && qemu-io -f vmdk -c 'write -P 1 0 1M' -c 'write -P 2 2047M 2M' "
                           "img.vmdk >/dev/null"},
        {"convert_to_split", kData + "qemu-img convert -O vmdk -o subformat=twoGbMaxExtentSparse data.raw img.vmdk"},
        {"convert_to_flat", kData + "qemu-img convert -O vmdk -o subformat=monolithicFlat data.raw img.vmdk"},
        // Extents of every kind qemu opens, and lines it passes over.
        {"mixed_types",
         kMakeFlat + kMakeSparse +
             desc_script("vmfs", "RW 2048 FLAT \"flat.raw\" 0\nRDONLY 100 FLAT \"nope\" 0\nRW 100 ZERO \"nope\"\n"
                                 "RW 1 SPARSE \"sparse.vmdk\"\nRW 7 VMFSSPARSE \"sparse.vmdk\"\n"
                                 "NOACCESS 5 SPARSE \"nope\"\nRW 0 FLAT \"nope\" 0\nRW -4 SPARSE \"nope\"\n"
                                 "RW 4096 VMFS \"flat.raw\"\nRW 100 FLAT \"flat.raw\" 2047\n"
                                 "RW 5 COW \"nope\"\nrw 5 FLAT \"nope\" 0\n")},
        {"cowd_and_sesparse",
         desc_script("vmfsSparse", "RW 10 VMFSSPARSE \"c.vmdk\"\nRW 10 SESPARSE \"se.vmdk\"\nRW 10 SPARSE \"c.vmdk\"\n"),
         {{"c.vmdk", cowd_extent(20480, 16, 1)}, {"se.vmdk", se_sparse_extent(4096)}}},
        {"cowd_same_grains", desc_script("vmfsSparse", "RW 10 VMFSSPARSE \"c.vmdk\"\nRW 10 VMFSSPARSE \"c.vmdk\"\n"),
         {{"c.vmdk", cowd_extent(2048, 128, 1)}}},
        {"sparse_grains_differ",
         kCreate + "a.vmdk 1M && qemu-img convert -f vmdk -O vmdk a.vmdk b.vmdk && " +
             desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"a.vmdk\"\nRW 1 SPARSE \"c.vmdk\"\n"),
         {{"c.vmdk", cowd_extent(2048, 8, 1)}}},
        // A compressed extent makes qemu call the image a stream.
        {"stream_extent",
         kCreate + kStream + "s.vmdk 5M && " + kMakeSparse +
             desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"s.vmdk\"\nRW 1 SPARSE \"s.vmdk\"\n")},
        {"stream_and_plain_extents",
         kCreate + kStream + "s.vmdk 5M && " + kMakeSparse +
             desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"sparse.vmdk\"\nRW 1 SPARSE \"s.vmdk\"\n")},
        {"one_file_many_times",
         kMakeFlat + desc_script("monolithicFlat", "RW 8 FLAT \"flat.raw\" 0\nRW 8 FLAT \"flat.raw\" 8\n"
                                                   "RW 8 FLAT \"flat.raw\" 99999999\n")},
        {"absolute_name", kMakeFlat + "printf '# Disk DescriptorFile\\nversion=1\\nCID=1\\nparentCID=2\\n"
                                      "createType=\"monolithicFlat\"\\nRW 2048 FLAT \"%s/flat.raw\" 0\\n' \"$D\" "
                                      "> img.vmdk"},
        {"subdirectory_name",
         "mkdir sub && truncate -s 1M sub/flat.raw && " +
             desc_script("monolithicFlat", "RW 2048 FLAT \"sub/flat.raw\" 0\nRW 2048 FLAT \"./sub/../sub/flat.raw\" 0\n")},
        // sscanf reads a line across line ends, and any white space.
        {"line_across_lines", kMakeFlat + desc_script("monolithicFlat", "RW\n2048\nFLAT\n\n\"flat.raw\"\n\n0\n")},
        {"blank_lines_repeat_an_extent",
         kMakeFlat + kMakeSparse +
             desc_script("twoGbMaxExtentSparse", "\n \n\t\r\nRW 1 SPARSE \"sparse.vmdk\"\n\n\nRW 8 FLAT \"flat.raw\" 0\n")},
        {"tabs_and_crlf", kMakeFlat + desc_script("monolithicFlat", "RW\t2048\tFLAT\t\"flat.raw\"\t0x10\r\n\r\n")},
        {"sign_and_zeros", kMakeFlat + desc_script("monolithicFlat", "RW +0002048 FLAT \"flat.raw\" -0\n")},
        {"sparse_without_closing_quote", kMakeSparse + desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"sparse.vmdk\n")},
        {"type_and_keys_in_comments",
         kMakeFlat + desc_script("monolithicFlat", "RW 2048 FLAT \"flat.raw\" 0\n",
                                 "# createType=\"twoGbMaxExtentFlat\" CID=77 parentCID=66\n")},
        {"cid_forms", kMakeFlat + desc_script("monolithicFlat", "RW 2048 FLAT \"flat.raw\" 0\n",
                                              "CID= \t-0x10\nparentCID=+7f\n")},
        {"with_hint", kMakeFlat + desc_script("monolithicFlat", "RW 2048 FLAT \"flat.raw\" 0\n",
                                              "CID=1\nparentCID=2\nparentFileNameHint=\"../b\\\\a se.vmdk\"\n")},
        // The largest total the block layer takes.
        {"size_at_length_limit", kMakeFlat + desc_script("monolithicFlat", "RW 9007199253692416 FLAT \"flat.raw\" 0\n"
                                                                           "RW 9007199253692416 FLAT \"flat.raw\" 0\n")},
        // A name of 600 bytes: qemu reads 511 of them (and no offset, so
        // only a sparse extent line stays valid).
        {"name_cut_at_511",
         kMakeSparse + "p=$(printf 'd%.0s' $(seq 200)) && mkdir -p $p/$p && cp sparse.vmdk $p/$p/" +
             "$(printf 'x%.0s' $(seq 109)) && " +
             "printf '# Disk DescriptorFile\\nversion=1\\nCID=1\\nparentCID=2\\ncreateType=\"vmfsSparse\"\\n"
             "RW 1 SPARSE \"%s/%s/%s\"\\n' $p $p $(printf 'x%.0s' $(seq 198)) > img.vmdk"},
    };
}

INSTANTIATE_TEST_SUITE_P(Images, VmdkDescriptorQemuMade, ::testing::ValuesIn(desc_cases()),
                         [](const ::testing::TestParamInfo<DescCase>& i) { return std::string(i.param.name); });

struct DescRefusal {
    DescCase made;
    Status expected;
    // Whether qemu's verdict is compared: where instar refuses what qemu
    // opens (unsupported_feature, or sizes that wrap around), qemu must
    // really open the file.
    bool qemu_opens = false;
};

void PrintTo(const DescRefusal& c, std::ostream* os) { *os << c.made.name; }

class VmdkDescriptorRefused : public ::testing::TestWithParam<DescRefusal> {};

TEST_P(VmdkDescriptorRefused, AsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const DescRefusal& c = GetParam();
    make_case(dir, c.made);
    const std::string f = dir.file("img.vmdk");
    const TwoRuns t = read_descriptor_file(f);
    EXPECT_EQ(t.status(), c.expected);
    const QemuJson q = qemu_info(f);
    EXPECT_EQ(q.ok, c.qemu_opens) << q.text;
}

std::vector<DescRefusal> desc_refusals() {
    const Status invalid = Status::image_invalid;
    const Status unsupported = Status::unsupported_feature;
    const std::string flat_line = "RW 2048 FLAT \"flat.raw\" 0\n";
    return {
        // qemu-img aborts on these (an assertion in its get_info).
        {{"no_extent", desc_script("monolithicFlat", "")}, invalid},
        {{"only_lines_qemu_skips",
          kMakeFlat + desc_script("monolithicFlat", "RW 100 ZERO \"z\"\nRDONLY 1 FLAT \"flat.raw\" 0\n"
                                                    "RW 1 FLATFLATFLAT \"flat.raw\" 0\nRW 1 FLAT \"\" 0\n")},
         invalid},
        {{"no_create_type", kMakeFlat + "printf 'version=1\\nCID=1\\nparentCID=2\\nRW 2048 FLAT \"flat.raw\" 0\\n' "
                                        "> img.vmdk"},
         invalid},
        {{"create_type_monolithicSparse", kMakeFlat + desc_script("monolithicSparse", flat_line)}, invalid},
        {{"create_type_custom", kMakeFlat + desc_script("custom", flat_line)}, invalid},
        {{"create_type_128_bytes", kMakeFlat + desc_script(std::string(128, 't'), flat_line)}, invalid},
        {{"create_type_unclosed", kMakeFlat + "printf 'CID=1\\nparentCID=2\\ncreateType=\"monolithicFlat\\n"
                                              "RW 2048 FLAT flat.raw 0\\n' > img.vmdk"},
         invalid},
        {{"flat_without_offset", kMakeFlat + desc_script("monolithicFlat", "RW 2048 FLAT \"flat.raw\"\n")}, invalid},
        {{"flat_negative_offset", kMakeFlat + desc_script("monolithicFlat", "RW 2048 FLAT \"flat.raw\" -1\n")},
         invalid},
        {{"vmfs_with_offset", kMakeFlat + desc_script("vmfs", "RW 2048 VMFS \"flat.raw\" 0\n")}, invalid},
        {{"zero_with_offset", kMakeFlat + desc_script("monolithicFlat", flat_line + "RW 1 ZERO \"z\" 0\n")}, invalid},
        {{"quote_in_name", kMakeFlat + desc_script("monolithicFlat", "RW 2048 FLAT \"fl\"at.raw\" 0\n")}, invalid},
        // The offset is read from the next line.
        {{"sparse_then_number", kMakeSparse + desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"sparse.vmdk\"\n"
                                                                                  "5 apples\n")},
         invalid},
        {{"sparse_extent_raw", kMakeFlat + desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"flat.raw\"\n")},
         invalid},
        {{"sparse_extent_empty", ": > e.raw && " + desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"e.raw\"\n")},
         invalid},
        {{"sparse_extent_3_bytes",
          "printf KDM > e.raw && " + desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"e.raw\"\n")},
         invalid},
        {{"sparse_extent_is_the_descriptor", desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"img.vmdk\"\n")},
         invalid},
        {{"sparse_extent_truncated",
          kMakeSparse + "truncate -s 600 sparse.vmdk && " +
              desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"sparse.vmdk\"\n")},
         invalid},
        {{"cids_missing", kMakeFlat + desc_script("monolithicFlat", flat_line, "cid=1\nparentcid=2\n")}, invalid},
        {{"parent_cid_missing", kMakeFlat + desc_script("monolithicFlat", flat_line, "CID=1\n")}, invalid},
        {{"hint_unclosed", kMakeFlat + "printf '%s' " +
                               shell_quote(descriptor("monolithicFlat", flat_line) + "parentFileNameHint=\"b.vmdk\n") +
                               " > img.vmdk"},
         invalid},
        {{"size_past_length_limit",
          kMakeFlat + desc_script("monolithicFlat", "RW 18014398507384833 FLAT \"flat.raw\" 0\n")},
         invalid},
        {{"size_saturated", kMakeFlat + desc_script("monolithicFlat", "RW 99999999999999999999 FLAT \"flat.raw\" 0\n")},
         invalid},
        {{"sizes_add_past_limit",
          kMakeFlat + desc_script("monolithicFlat", "RW 9007199254740992 FLAT \"flat.raw\" 0\n"
                                                    "RW 9007199254740992 FLAT \"flat.raw\" 0\n")},
         invalid},
        {{"cowd_grain_too_big", desc_script("vmfsSparse", "RW 1 VMFSSPARSE \"c.vmdk\"\n"),
          {{"c.vmdk", cowd_extent(2048, 0x200001, 1)}}},
         invalid},
        {{"cowd_directory_too_big", desc_script("vmfsSparse", "RW 1 VMFSSPARSE \"c.vmdk\"\n"),
          {{"c.vmdk", cowd_extent(2048, 8, 32u * 1024 * 1024 + 1)}}},
         invalid},
        {{"sesparse_on_kdmv", kMakeSparse + desc_script("seSparse", "RW 1 SESPARSE \"sparse.vmdk\"\n")}, invalid},
        {{"sesparse_bad_version", desc_script("seSparse", "RW 1 SESPARSE \"se.vmdk\"\n"),
          {{"se.vmdk", [] {
                auto b = se_sparse_extent(8);
                put64(b, 8, 0x100000001);
                return b;
            }()}}},
         invalid},
        {{"sesparse_dirty", desc_script("seSparse", "RW 1 SESPARSE \"se.vmdk\"\n"),
          {{"se.vmdk", [] {
                auto b = se_sparse_extent(8);
                put64(b, 512 + 24, 1);  // replay_journal
                return b;
            }()}}},
         invalid},
        {{"sesparse_padding", desc_script("seSparse", "RW 1 SESPARSE \"se.vmdk\"\n"),
          {{"se.vmdk", [] {
                auto b = se_sparse_extent(8);
                b[511] = 1;
                return b;
            }()}}},
         invalid},
        {{"sesparse_volatile_past_limit", desc_script("seSparse", "RW 1 SESPARSE \"se.vmdk\"\n"),
          {{"se.vmdk", [] {
                auto b = se_sparse_extent(8);
                put64(b, 80, uint64_t(1) << 55);
                return b;
            }()}}},
         invalid},
        {{"sesparse_directory_past_limit", desc_script("seSparse", "RW 1 SESPARSE \"se.vmdk\"\n"),
          {{"se.vmdk", [] {
                auto b = se_sparse_extent(8);
                put64(b, 128, uint64_t(1) << 54);
                return b;
            }()}}},
         invalid},
        // qemu opens these; instar declines.
        {{"hint_4095_bytes", kMakeFlat + desc_script("monolithicFlat", flat_line,
                                                     "CID=1\nparentCID=2\nparentFileNameHint=\"" +
                                                         std::string(4095, 'h') + "\"\n")},
         unsupported, true},
        {{"cowd_grain_zero", desc_script("vmfsSparse", "RW 1 VMFSSPARSE \"c.vmdk\"\n"),
          {{"c.vmdk", cowd_extent(2048, 0, 1)}}},
         unsupported, true},
        // A sparse extent that is a descriptor in disguise: qemu reads
        // more extents from it (and shows them with the wrong type).
        {{"sparse_extent_is_a_descriptor",
          kMakeFlat + desc_script("twoGbMaxExtentSparse", "RW 1 SPARSE \"n.vmdk\"\n"),
          {{"n.vmdk", [] {
                std::vector<uint8_t> b(4096, 0);
                std::memcpy(b.data(), "KDMV", 4);
                put32(b, kVersion, 1);
                put64(b, kGranularity, 128);
                put64(b, kDescOffset, 1);
                put64(b, kDescSize, 20);
                const std::string d = descriptor("monolithicFlat", "RW 2048 FLAT \"flat.raw\" 0\n");
                std::memcpy(b.data() + 512, d.data(), d.size());
                return b;
            }()}}},
         unsupported, true},
        // Sizes whose 64-bit sum wraps around: qemu-img prints the wrapped
        // sizes (here a 512-byte disk with negative extents).
        {{"sizes_wrap_around",
          kMakeFlat + desc_script("monolithicFlat", "RW 9223372036854775807 FLAT \"flat.raw\" 0\n"
                                                    "RW 9223372036854775807 FLAT \"flat.raw\" 0\n"
                                                    "RW 3 FLAT \"flat.raw\" 0\n")},
         invalid, true},
    };
}

INSTANTIATE_TEST_SUITE_P(Files, VmdkDescriptorRefused, ::testing::ValuesIn(desc_refusals()),
                         [](const ::testing::TestParamInfo<DescRefusal>& i) { return std::string(i.param.made.name); });

// What the first run says about a descriptor naming more files than the
// host can attach: only the count, which the host refuses by.
TEST(VmdkDescriptor, MoreExtentsThanDevicesAreCountedNotListed) {
    for (uint32_t n : {abi::kInfoMaxVmdkExtents, abi::kInfoMaxVmdkExtents + 1, 3 * abi::kInfoMaxVmdkExtents}) {
        std::string lines;
        for (uint32_t i = 0; i < n; ++i) lines += "RW 4194304 FLAT \"x-f" + std::to_string(i) + ".vmdk\" 0\n";
        const std::string d = descriptor("twoGbMaxExtentFlat", lines);
        NoExtentFiles none;
        CollectedRecords listed;
        const Result r = read_info(std::vector<uint8_t>(d.begin(), d.end()), none, listed);
        ASSERT_EQ(r.status, formats::kOk) << n;
        EXPECT_EQ(r.info.vmdk.extent_count, n);
        EXPECT_EQ(listed.records.size(), n <= abi::kInfoMaxVmdkExtents ? n : 0u);
    }
}

// A second run whose device count differs from the descriptor's extents
// (the host attached something else) is a configuration error.
TEST(VmdkDescriptor, WrongNumberOfFilesIsBadConfig) {
    const std::string d = descriptor("monolithicFlat", "RW 8 FLAT \"a\" 0\nRW 8 FLAT \"b\" 0\n");
    const std::vector<uint8_t> bytes(d.begin(), d.end());
    for (size_t n : {1, 3}) {
        DirExtentFiles files("/nonexistent", std::vector<std::string>(n, "a"));
        CollectedRecords records;
        EXPECT_EQ(read_info(bytes, files, records).status, Status::bad_config);
        EXPECT_TRUE(files.read_files.empty());
        EXPECT_TRUE(records.records.empty());
    }
}

// qemu's sscanf skips white space across line ends for every line it
// starts on: each blank line reads as the extent line after it (qemu
// counts that extent once per blank line before it, see the case
// "blank_lines_repeat_an_extent"), and a descriptor of blank lines takes
// it quadratic time. The guest reads the largest descriptor qemu reads in
// linear time, and counts as qemu does.
TEST(VmdkDescriptor, BlankLinesAreReadInLinearTime) {
    for (const char* pad : {"\n", " ", "\r\n", " \t"}) {
        std::string text = descriptor("monolithicFlat", "");
        const size_t from = text.size();
        while (text.size() < (1u << 20) - 64) text += pad;
        const uint32_t blank_lines = uint32_t(std::count(text.begin() + long(from), text.end(), '\n'));
        text += "RW 8 FLAT \"b\" 0\n";
        const auto start = std::chrono::steady_clock::now();
        NoExtentFiles none;
        CollectedRecords listed;
        const Result r = read_info(std::vector<uint8_t>(text.begin(), text.end()), none, listed);
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        EXPECT_EQ(r.status, formats::kOk);
        EXPECT_EQ(r.info.vmdk.extent_count, blank_lines + 1);
        EXPECT_LT(ms.count(), 2000) << "padding " << ::testing::PrintToString(pad);
    }
}

// ---- random damage -----------------------------------------------------------

// Never a read outside the file, never a crash, and info agrees with the
// probe on every file either accepts.
TEST(VmdkInfoFuzz, RandomDamageStaysInBoundsAndMatchesTheProbe) {
    const std::vector<uint8_t> base = sparse_1m(with_hint("base.vmdk"));
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
        ASSERT_EQ(r.extents.size(), 1u);
        EXPECT_EQ(r.extents[0].virtual_size, r.info.virtual_size);
        EXPECT_LE(r.info.backing_file.length, abi::kInfoPathMax);
        expect_clean(r.info);
    }
}

// Damaged descriptors and extent headers: never a read outside a file,
// never a crash, and the two runs agree (a first run that asks for files
// gets an answer about exactly those).
TEST(VmdkInfoFuzz, RandomDamageToDescriptorsAndExtents) {
    const std::vector<uint8_t> sparse = sparse_extent_1m();
    const std::vector<std::pair<std::string, std::vector<uint8_t>>> good = {
        {"s.vmdk", sparse}, {"c.vmdk", cowd_extent(2048, 16, 1)}, {"se.vmdk", se_sparse_extent(4096)}};
    const std::string base = descriptor(
        "vmfsSparse", "RW 10 SPARSE \"s.vmdk\"\nRW 2048 FLAT \"f.raw\" 0\nRW 9 VMFSSPARSE \"c.vmdk\"\n"
                      "RW 5 SESPARSE \"se.vmdk\"\nRW 64 VMFS \"f.raw\"\n",
        "CID=12345678\nparentCID=ffffffff\nparentFileNameHint=\"p.vmdk\"\n");

    // The extent files by name, as the host would open them.
    class Files final : public formats::VmdkExtentFiles {
    public:
        std::vector<std::vector<uint8_t>> files;
        uint32_t count() const override { return uint32_t(files.size()); }
        Status read(uint32_t i, Reader& reader) override {
            StrictSource src(files.at(i));
            const Status s = reader.read(src);
            EXPECT_FALSE(src.out_of_bounds);
            return s;
        }
    };

    std::mt19937_64 rng(0x65787473);
    int opened = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::string d = base;
        std::vector<std::pair<std::string, std::vector<uint8_t>>> files = good;
        const int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            switch (rng() % 4) {
            case 0: {
                const char pool[] = "RW \"\n\r\t0123456789-+FLATSPARSEVMFS.x#=";
                d[rng() % d.size()] = pool[rng() % (sizeof pool - 1)];
                break;
            }
            case 1: d.insert(rng() % d.size(), std::string(1 + rng() % 3, "\n \""[rng() % 3])); break;
            case 2: {
                auto& f = files[rng() % files.size()].second;
                f[rng() % 600] = uint8_t(rng());
                break;
            }
            default: {
                auto& f = files[rng() % files.size()].second;
                f.resize(rng() % f.size());
                break;
            }
            }
        }
        const std::vector<uint8_t> bytes(d.begin(), d.end());
        NoExtentFiles none;
        CollectedRecords listed;
        const Result first = read_info(bytes, none, listed);
        if (first.status != formats::kOk || first.info.vmdk.extent_count > abi::kInfoMaxVmdkExtents) continue;
        Files attached;
        bool all_there = true;
        for (const auto& f : listed.of<abi::InfoVmdkExtentFile>(abi::InfoRecord::vmdk_extent_file)) {
            const std::string name = str(f.name);
            auto it = std::find_if(files.begin(), files.end(), [&](const auto& x) { return x.first == name; });
            if (name == "f.raw") {
                attached.files.emplace_back(4096, 0);
            } else if (it != files.end()) {
                attached.files.push_back(it->second);
            } else {
                all_there = false;  // the host would say the file is missing
            }
        }
        if (!all_there) continue;
        CollectedRecords records;
        const Result second = read_info(bytes, attached, records);
        ASSERT_NE(second.status, Status::bad_config) << iter;
        ASSERT_NE(second.status, Status::internal) << iter;
        if (second.status != formats::kOk) continue;
        ++opened;
        EXPECT_EQ(second.extents.size(), attached.files.size()) << iter;
        uint64_t total = 0;
        for (const auto& e : second.extents) total += e.virtual_size;
        EXPECT_EQ(total, second.info.virtual_size) << iter;
        expect_clean(second.info);
    }
    EXPECT_GT(opened, 100);  // the damage leaves many files qemu would open
}

}  // namespace
}  // namespace instar::testing::vmdk
