// vmdk_emit beyond the byte-identity matrix: refusals (checked against what
// qemu-img refuses), size limits, instar's smaller grains, and the request
// fields that only the emitter sees.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_create.h"
#include "formats/vmdk/vmdk_probe.h"
#include "memory_image.h"
#include "vmdk_test_support.h"

namespace instar::testing::vmdk {
namespace {

using abi::CreateRequest;
using formats::EmitInput;
using formats::EmitOutput;
using formats::Status;

constexpr uint64_t MiB = 1024 * 1024, GiB = 1024 * MiB, TiB = 1024 * GiB;

Status emit(const CreateRequest& r, uint64_t size, MemorySink& sink, EmitOutput& out, bool has_parent = false,
            uint32_t parent_cid = 0) {
    Scratch scratch;
    EmitInput in{&r, size, has_parent, parent_cid};
    return formats::vmdk_emit(in, sink, scratch.arena, out);
}

Status emit(const CreateRequest& r, uint64_t size) {
    MemorySink sink;
    EmitOutput out{};
    return emit(r, size, sink, out);
}

std::string descriptor_of(const std::vector<uint8_t>& image) {
    const char* p = reinterpret_cast<const char*>(image.data()) + 512;
    return std::string(p, strnlen(p, 10240));
}

// ---- refusals that mirror qemu-img -------------------------------------

struct QemuRefusal {
    const char* name;
    std::string qemu_args;  // after `qemu-img create -f vmdk`, before the file name
    Status expected;
    void (*edit)(CreateRequest&, EmitInput&);
};

void PrintTo(const QemuRefusal& c, std::ostream* os) { *os << c.name; }

class VmdkRefusesLikeQemu : public ::testing::TestWithParam<QemuRefusal> {};

TEST_P(VmdkRefusesLikeQemu, BothRefuse) {
    INSTAR_REQUIRE_QEMU_IMG();
    const QemuRefusal& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    // A non-vmdk parent for the cases that need one.
    ASSERT_EQ(run_command("qemu-img create -q -f raw " + shell_quote(dir.file("raw.img")) + " 1M").status, 0);
    ASSERT_EQ(run_command("qemu-img create -q -f vmdk " + shell_quote(dir.file("base.vmdk")) + " 1M").status, 0);
    auto q = run_command("cd " + shell_quote(dir.file("")) + " && qemu-img create -q -f vmdk " + c.qemu_args + " new.vmdk 1M");
    EXPECT_NE(q.status, 0) << "qemu-img accepted it:\n" << q.output;

    CreateRequest r = default_request(MiB);
    EmitInput in{&r, MiB, false, 0};
    c.edit(r, in);
    MemorySink sink;
    Scratch scratch;
    EmitOutput out{};
    EXPECT_EQ(formats::vmdk_emit(in, sink, scratch.arena, out), c.expected);
    EXPECT_TRUE(sink.bytes.empty()) << "nothing may be written before refusing";
}

void set_backing(CreateRequest& r, const char* path, abi::Format f) {
    r.flags |= abi::kCreateHasBacking | abi::kCreateBackingAttached;
    r.backing_format = uint32_t(f);
    std::snprintf(r.backing_file, sizeof(r.backing_file), "%s", path);
}

const QemuRefusal kQemuRefusals[] = {
    {"compat6_with_hwversion", "-o compat6=on,hwversion=4", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) {
         r.flags |= abi::kCreateCompat6;
         std::strcpy(r.vmdk_hwversion, "4");
     }},
    {"compat6_with_hwversion_6", "-o compat6=on,hwversion=6", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) {
         r.flags |= abi::kCreateCompat6;
         std::strcpy(r.vmdk_hwversion, "6");
     }},
    {"preallocation_metadata", "-o preallocation=metadata", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.preallocation = uint32_t(abi::Preallocation::metadata); }},
    {"backing_format_raw", "-b raw.img -F raw", Status::backing_format_unsupported,
     [](CreateRequest& r, EmitInput&) { set_backing(r, "raw.img", abi::Format::raw); }},
    {"backing_format_qcow2_without_backing", "-o backing_fmt=qcow2", Status::backing_format_unsupported,
     [](CreateRequest& r, EmitInput&) { r.backing_format = uint32_t(abi::Format::qcow2); }},
    // The parent is raw but claimed to be vmdk: the guest op finds no CID.
    {"backing_not_vmdk", "-b raw.img -F vmdk", Status::backing_format_unsupported,
     [](CreateRequest& r, EmitInput& in) {
         set_backing(r, "raw.img", abi::Format::vmdk);
         in.has_parent_cid = false;
     }},
    {"lazy_refcounts_is_not_a_vmdk_option", "-o lazy_refcounts=on", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.flags |= abi::kCreateLazyRefcounts; }},
    {"extended_l2_is_not_a_vmdk_option", "-o extended_l2=on", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.flags |= abi::kCreateExtendedL2; }},
};

INSTANTIATE_TEST_SUITE_P(Refusals, VmdkRefusesLikeQemu, ::testing::ValuesIn(kQemuRefusals),
                         [](const ::testing::TestParamInfo<QemuRefusal>& i) { return std::string(i.param.name); });

// ---- refusals of malformed requests (the host never sends these) --------

struct BadRequest {
    const char* name;
    Status expected;
    void (*edit)(CreateRequest&, EmitInput&);
};

void PrintTo(const BadRequest& c, std::ostream* os) { *os << c.name; }

class VmdkRefusesBadRequest : public ::testing::TestWithParam<BadRequest> {};

TEST_P(VmdkRefusesBadRequest, Refused) {
    CreateRequest r = default_request(MiB);
    EmitInput in{&r, MiB, false, 0};
    GetParam().edit(r, in);
    MemorySink sink;
    Scratch scratch;
    EmitOutput out{};
    EXPECT_EQ(formats::vmdk_emit(in, sink, scratch.arena, out), GetParam().expected);
    EXPECT_TRUE(sink.bytes.empty());
}

const BadRequest kBadRequests[] = {
    {"null_request", Status::invalid_option, [](CreateRequest&, EmitInput& in) { in.request = nullptr; }},
    {"format_qcow2", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.format = uint32_t(abi::Format::qcow2); }},
    {"unknown_flag", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.flags |= 1u << 31; }},
    {"vpc_force_size", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.flags |= abi::kCreateForceSize; }},
    {"preallocation_unknown", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.preallocation = 4; }},
    {"monolithic_flat", Status::format_unsupported,
     [](CreateRequest& r, EmitInput&) { r.vmdk_subformat = uint32_t(abi::VmdkSubformat::monolithic_flat); }},
    {"two_gb_sparse", Status::format_unsupported,
     [](CreateRequest& r, EmitInput&) {
         r.vmdk_subformat = uint32_t(abi::VmdkSubformat::two_gb_max_extent_sparse);
     }},
    {"two_gb_flat", Status::format_unsupported,
     [](CreateRequest& r, EmitInput&) { r.vmdk_subformat = uint32_t(abi::VmdkSubformat::two_gb_max_extent_flat); }},
    {"subformat_unknown", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.vmdk_subformat = 5; }},
    {"adapter_unknown", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.vmdk_adapter = 4; }},
    {"grain_2k", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.grain_size = 2048; }},
    {"grain_128k", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.grain_size = 131072; }},
    {"grain_not_power_of_two", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.grain_size = 12288; }},
    {"grain_zero", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.grain_size = 0; }},
    {"hwversion_unterminated", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { std::memset(r.vmdk_hwversion, 'x', sizeof(r.vmdk_hwversion)); }},
    {"toolsversion_unterminated", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { std::memset(r.vmdk_toolsversion, '1', sizeof(r.vmdk_toolsversion)); }},
    {"image_name_empty", Status::invalid_option, [](CreateRequest& r, EmitInput&) { r.image_name[0] = '\0'; }},
    {"image_name_with_directory", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { std::strcpy(r.image_name, "dir/a.vmdk"); }},
    {"image_name_unterminated", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { std::memset(r.image_name, 'a', sizeof(r.image_name)); }},
    {"backing_path_unterminated", Status::backing_path_too_long,
     [](CreateRequest& r, EmitInput& in) {
         r.flags |= abi::kCreateHasBacking;
         std::memset(r.backing_file, 'b', sizeof(r.backing_file));
         in.has_parent_cid = true;
     }},
    {"backing_flag_without_path", Status::invalid_option,
     [](CreateRequest& r, EmitInput& in) {
         r.flags |= abi::kCreateHasBacking;
         in.has_parent_cid = true;
     }},
    {"backing_path_without_flag", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { std::strcpy(r.backing_file, "base.vmdk"); }},
    {"parent_cid_without_backing", Status::invalid_option,
     [](CreateRequest&, EmitInput& in) { in.has_parent_cid = true; }},
    {"attached_without_backing", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.flags |= abi::kCreateBackingAttached; }},
    {"no_size_no_backing", Status::invalid_option,
     [](CreateRequest& r, EmitInput&) { r.flags &= ~abi::kCreateHasSize; }},
    {"size_disagrees_with_input", Status::invalid_option,
     [](CreateRequest&, EmitInput& in) { in.virtual_size = 2 * MiB; }},
    {"size_above_int64", Status::size_out_of_range,
     [](CreateRequest& r, EmitInput& in) { r.size = in.virtual_size = uint64_t(INT64_MAX) + 1; }},
};

INSTANTIATE_TEST_SUITE_P(Malformed, VmdkRefusesBadRequest, ::testing::ValuesIn(kBadRequests),
                         [](const ::testing::TestParamInfo<BadRequest>& i) { return std::string(i.param.name); });

// ---- size limits --------------------------------------------------------

// qemu counts grains in 32 bits; at 2^32 grains (256 TiB with 64 KiB grains)
// it wraps and writes an empty directory. The image it leaves cannot be
// written to, which is why we refuse from there on.
TEST(VmdkSizeLimit, QemuImageAtTwoToThe32GrainsIsUnwritable) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const std::string f = dir.file("big.vmdk");
    ASSERT_EQ(run_command("qemu-img create -q -f vmdk " + shell_quote(f) + " 256T").status, 0);
    auto w = run_command("qemu-io -c 'write 0 64k' " + shell_quote(f));
    EXPECT_NE(w.output.find("write failed"), std::string::npos) << w.output;

    CreateRequest r = default_request(256 * TiB);
    EXPECT_EQ(emit(r, 256 * TiB), Status::size_out_of_range);
}

struct Limit {
    uint32_t grain;
    uint64_t max_size;  // largest accepted
};

void PrintTo(const Limit& c, std::ostream* os) { *os << "grain " << c.grain; }

class VmdkSizeLimitByGrain : public ::testing::TestWithParam<Limit> {};

TEST_P(VmdkSizeLimitByGrain, LargestAcceptedAndFirstRefused) {
    const Limit l = GetParam();
    CreateRequest r = default_request(l.max_size);
    r.grain_size = l.grain;
    CountingSink sink;
    Scratch scratch;
    EmitInput in{&r, l.max_size, false, 0};
    EmitOutput out{};
    ASSERT_EQ(formats::vmdk_emit(in, sink, scratch.arena, out), formats::kOk);
    // 2^32 - 1 grains: 2^23 grain tables of 4 sectors behind each of the
    // two directories of 2^23 * 4 bytes.
    const uint64_t dir_sectors = (uint64_t(1) << 23) * 4 / 512;
    const uint64_t tables = (uint64_t(1) << 23) * 4;
    const uint64_t end = 21 + 2 * (dir_sectors + tables);
    const uint64_t grain_sectors = l.grain / 512;
    EXPECT_EQ(out.file_size, (end + grain_sectors - 1) / grain_sectors * grain_sectors * 512);
    EXPECT_TRUE(sink.size_set);
    EXPECT_EQ(sink.size, out.file_size);
    EXPECT_EQ(sink.end, (end - tables) * 512);  // last write: the primary directory
    EXPECT_EQ(out.metadata_bytes, sink.written);
    EXPECT_EQ(out.unit_size, l.grain);

    // One more sector needs one more grain.
    r.size = in.virtual_size = l.max_size + 1;
    EXPECT_EQ(formats::vmdk_emit(in, sink, scratch.arena, out), Status::size_out_of_range);
}

INSTANTIATE_TEST_SUITE_P(Grains, VmdkSizeLimitByGrain,
                         ::testing::Values(Limit{65536, uint64_t(UINT32_MAX) * 65536},
                                           Limit{4096, uint64_t(UINT32_MAX) * 4096}),
                         [](const ::testing::TestParamInfo<Limit>& i) { return std::to_string(i.param.grain); });

// ---- instar's smaller grains: not qemu's, but qemu must accept them -----

struct GrainCase {
    uint32_t grain;
    uint64_t size;
    abi::VmdkSubformat subformat;
};

void PrintTo(const GrainCase& c, std::ostream* os) { *os << "grain " << c.grain << " size " << c.size; }

class VmdkSmallGrain : public ::testing::TestWithParam<GrainCase> {};

TEST_P(VmdkSmallGrain, QemuChecksReadsAndWritesIt) {
    INSTAR_REQUIRE_QEMU_IMG();
    const GrainCase c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    CreateRequest r = default_request(c.size, "g.vmdk");
    r.grain_size = c.grain;
    r.vmdk_subformat = uint32_t(c.subformat);
    MemorySink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(r, c.size, sink, out), formats::kOk);
    EXPECT_EQ(out.unit_size, c.grain);
    EXPECT_EQ(out.file_size % c.grain, 0u);  // data starts on a grain boundary
    EXPECT_EQ(sink.bytes.size(), out.file_size);

    const std::string f = dir.file("g.vmdk");
    ASSERT_TRUE(write_sparse(f, sink.bytes));
    auto check = run_command("qemu-img check " + shell_quote(f));
    EXPECT_EQ(check.status, 0) << check.output;
    auto info = run_command("qemu-img info --output=json " + shell_quote(f));
    ASSERT_EQ(info.status, 0) << info.output;
    uint64_t vs = 0, cluster = 0;
    ASSERT_TRUE(json_number(info.output, "virtual-size", vs));
    ASSERT_TRUE(json_number(info.output, "cluster-size", cluster));
    EXPECT_EQ(vs, (c.size + 511) / 512 * 512);
    EXPECT_EQ(cluster, c.grain);

    // Data written through qemu lands in grains and reads back, first and
    // last grain included (streamOptimized only takes whole-image streams).
    if (c.subformat == abi::VmdkSubformat::monolithic_sparse) {
        const uint64_t last = (c.size / c.grain - 1) * c.grain;
        auto io = run_command("qemu-io -c 'write -P 0x5a 0 " + std::to_string(c.grain) + "' -c 'write -P 0xa5 " +
                      std::to_string(last) + " " + std::to_string(c.grain) + "' -c 'read -P 0x5a 0 " +
                      std::to_string(c.grain) + "' -c 'read -P 0xa5 " + std::to_string(last) + " " +
                      std::to_string(c.grain) + "' " + shell_quote(f));
        EXPECT_EQ(io.status, 0) << io.output;
        EXPECT_EQ(io.output.find("failed"), std::string::npos) << io.output;
        EXPECT_EQ(io.output.find("mismatch"), std::string::npos) << io.output;
        auto recheck = run_command("qemu-img check " + shell_quote(f));
        EXPECT_EQ(recheck.status, 0) << recheck.output;
    }
}

std::vector<GrainCase> grain_cases() {
    std::vector<GrainCase> v;
    for (uint32_t g : {4096u, 8192u, 16384u, 32768u}) {
        for (uint64_t s : {1 * MiB, 100 * MiB + 3 * 512, 1 * GiB + 512}) {
            v.push_back({g, s, abi::VmdkSubformat::monolithic_sparse});
        }
        v.push_back({g, 64 * MiB, abi::VmdkSubformat::stream_optimized});
    }
    return v;
}

INSTANTIATE_TEST_SUITE_P(Grains, VmdkSmallGrain, ::testing::ValuesIn(grain_cases()),
                         [](const ::testing::TestParamInfo<GrainCase>& i) {
                             return std::to_string(i.param.grain) + "_" + std::to_string(i.param.size) +
                                    (i.param.subformat == abi::VmdkSubformat::stream_optimized ? "_stream" : "");
                         });

// ---- fields only the emitter sees --------------------------------------

TEST(VmdkCid, TakenFromEntropyBytes0To3LittleEndian) {
    CreateRequest r = default_request(MiB);
    r.entropy[0] = 0x78;
    r.entropy[1] = 0x56;
    r.entropy[2] = 0x34;
    r.entropy[3] = 0x12;
    MemorySink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(r, MiB, sink, out), formats::kOk);
    EXPECT_NE(descriptor_of(sink.bytes).find("\nCID=12345678\nparentCID=ffffffff\n"), std::string::npos);
}

TEST(VmdkCid, PrintedWithoutLeadingZerosAsQemuDoes) {
    CreateRequest r = default_request(MiB);
    set_cid(r, 0x5);
    MemorySink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(r, MiB, sink, out), formats::kOk);
    EXPECT_NE(descriptor_of(sink.bytes).find("\nCID=5\n"), std::string::npos);
    set_cid(r, 0);
    MemorySink zero;
    ASSERT_EQ(emit(r, MiB, zero, out), formats::kOk);
    EXPECT_NE(descriptor_of(zero.bytes).find("\nCID=0\n"), std::string::npos);
}

TEST(VmdkCid, OtherEntropyAndTimestampDoNotMatter) {
    CreateRequest a = default_request(GiB);
    CreateRequest b = a;
    for (size_t i = 4; i < abi::kEntropyBytes; ++i) b.entropy[i] ^= 0xff;
    b.timestamp = 42;
    MemorySink sa, sb;
    EmitOutput out{};
    ASSERT_EQ(emit(a, GiB, sa, out), formats::kOk);
    ASSERT_EQ(emit(b, GiB, sb, out), formats::kOk);
    EXPECT_EQ(sa.bytes, sb.bytes);
}

TEST(VmdkParent, CidAndHintWritten) {
    CreateRequest r = default_request(MiB);
    set_backing(r, "../images/base image.vmdk", abi::Format::vmdk);
    MemorySink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(r, MiB, sink, out, true, 0xc3258c2), formats::kOk);
    EXPECT_NE(descriptor_of(sink.bytes).find("\nparentCID=c3258c2\ncreateType=\"monolithicSparse\"\n"
                                             "parentFileNameHint=\"../images/base image.vmdk\"\n# Extent"),
              std::string::npos)
        << descriptor_of(sink.bytes);
}

// The longest strings a request can carry still fit the 20 descriptor
// sectors, and the result opens in qemu and in our probe.
TEST(VmdkDescriptor, LongestStringsFitAndOpen) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    CreateRequest r = default_request(GiB);
    std::string name(abi::kImageNameMax, 'n');
    std::memcpy(r.image_name, name.data(), name.size());
    std::string backing(abi::kBackingPathMax, 'b');
    set_backing(r, backing.c_str(), abi::Format::vmdk);
    std::memset(r.vmdk_hwversion, 'h', abi::kVmdkVersionStringMax);
    std::memset(r.vmdk_toolsversion, 't', abi::kVmdkVersionStringMax);
    set_cid(r, 0xffffffff);
    MemorySink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(r, GiB, sink, out, true, 0xfffffffe), formats::kOk);
    const std::string d = descriptor_of(sink.bytes);
    EXPECT_LT(d.size(), 10240u);
    EXPECT_NE(d.find("RW 2097152 SPARSE \"" + name + "\"\n"), std::string::npos);
    EXPECT_NE(d.find("parentFileNameHint=\"" + backing + "\""), std::string::npos);
    // The redundant directory right after the descriptor area is intact.
    EXPECT_EQ(formats::load_le32(sink.bytes.data() + 21 * 512), 22u);

    const std::string f = dir.file("long.vmdk");
    ASSERT_TRUE(write_sparse(f, sink.bytes));
    auto info = run_command("qemu-img info -U --output=json " + shell_quote(f));
    EXPECT_EQ(info.status, 0) << info.output;
    EXPECT_NE(info.output.find("\"cid\": 4294967295"), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("\"parent-cid\": 4294967294"), std::string::npos) << info.output;

    MemorySource src(sink.bytes);
    Scratch scratch;
    formats::BasicImageInfo bi{};
    ASSERT_EQ(formats::vmdk_read_basic(src, scratch.arena, bi), formats::kOk);
    EXPECT_EQ(bi.cid, 0xffffffffu);
    EXPECT_EQ(bi.virtual_size, GiB);
}

// ---- resources -----------------------------------------------------------

TEST(VmdkResources, SmallArenaIsScratchExceeded) {
    CreateRequest r = default_request(GiB);
    std::vector<uint8_t> mem(4096);
    formats::Arena arena(mem.data(), mem.size());
    MemorySink sink;
    EmitInput in{&r, GiB, false, 0};
    EmitOutput out{};
    EXPECT_EQ(formats::vmdk_emit(in, sink, arena, out), Status::scratch_exceeded);
    EXPECT_TRUE(sink.bytes.empty());
}

// The grain directories are assembled piecewise; a scratch area that only
// leaves one sector for them produces the same image.
TEST(VmdkResources, TightArenaGivesSameBytes) {
    CreateRequest r = default_request(2 * TiB);
    MemorySink roomy;
    EmitOutput out{};
    ASSERT_EQ(emit(r, 2 * TiB, roomy, out), formats::kOk);
    std::vector<uint8_t> mem(512 + 10240 + 512 + 64);
    formats::Arena arena(mem.data(), mem.size());
    MemorySink tight;
    EmitInput in{&r, 2 * TiB, false, 0};
    ASSERT_EQ(formats::vmdk_emit(in, tight, arena, out), formats::kOk);
    EXPECT_EQ(first_difference(roomy.bytes, tight.bytes), -1);
}

class FailingSink : public formats::ImageSink {
public:
    int writes_left;
    explicit FailingSink(int n) : writes_left(n) {}
    bool write(uint64_t, const void*, size_t) override { return writes_left-- > 0; }
    bool preallocate(uint64_t, uint64_t, bool) override { return true; }
    bool set_size(uint64_t) override { return writes_left > 0; }
};

TEST(VmdkResources, SinkFailureIsWriteFailed) {
    CreateRequest r = default_request(GiB);
    Scratch scratch;
    EmitInput in{&r, GiB, false, 0};
    EmitOutput out{};
    for (int n = 0; n < 5; ++n) {
        FailingSink sink(n);
        EXPECT_EQ(formats::vmdk_emit(in, sink, scratch.arena, out), Status::write_failed) << n;
        scratch.arena.reset();
    }
}

}  // namespace
}  // namespace instar::testing::vmdk
