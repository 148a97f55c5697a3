// vhdx_emit against the real qemu-img 7.2: byte identity over the option
// matrix, qemu-img check/info on what we write, refusals where qemu
// refuses.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vhdx/vhdx_create.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using namespace vv;
using formats::EmitInput;
using formats::EmitOutput;
using formats::Status;

constexpr uint64_t MiB = 1 << 20, GiB = 1024 * MiB, TiB = 1024 * GiB;

// Where the random fields sit. Headers at 64 KiB and 128 KiB: checksum
// (+4, 4 bytes), sequence number (+8, 8), file write GUID (+16, 16), data
// write GUID (+32, 16). The log GUID (+48) is not random: qemu leaves it
// zero, and it is compared. The page 83 id is the third metadata item, at
// metadata region + 64 KiB + 16.
constexpr uint64_t kHeaders[2] = {0x10000, 0x20000};
constexpr uint64_t kRegionTable = 0x30000;

uint64_t metadata_offset_of(const std::string& qemu_file) {
    std::vector<uint8_t> rt = read_range(qemu_file, kRegionTable, 80);
    return formats::load_le64(rt.data() + 16 + 32 + 16);
}

std::vector<Mask> random_fields(uint64_t metadata_offset) {
    std::vector<Mask> m;
    for (uint64_t h : kHeaders) {
        m.push_back({h + 4, 4});
        m.push_back({h + 8, 8});
        m.push_back({h + 16, 16});
        m.push_back({h + 32, 16});
    }
    m.push_back({metadata_offset + 0x10000 + 16, 16});
    return m;
}

// CRC-32C computed bit by bit: independent of the table-driven code under
// test.
uint32_t slow_crc32c(const std::vector<uint8_t>& data) {
    uint32_t crc = 0xFFFFFFFFu;
    for (uint8_t b : data) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

bool checksum_ok(std::vector<uint8_t> block) {
    uint32_t stored = formats::load_le32(block.data() + 4);
    std::memset(block.data() + 4, 0, 4);
    return slow_crc32c(block) == stored;
}

struct VhdxCase {
    uint64_t size;
    bool fixed = false;
    bool zero = true;          // block_state_zero
    uint64_t block = 0;        // 0: qemu's choice
    int64_t log = -1;          // -1: default (1 MiB)
    bool write_test = false;   // also write and read data through qemu-io
};

std::string options(const VhdxCase& c) {
    std::string o = std::string("subformat=") + (c.fixed ? "fixed" : "dynamic") +
                    ",block_state_zero=" + (c.zero ? "on" : "off");
    if (c.block) o += ",block_size=" + std::to_string(c.block);
    if (c.log >= 0) o += ",log_size=" + std::to_string(c.log);
    return o;
}

abi::CreateRequest vhdx_request(const VhdxCase& c) {
    abi::CreateRequest r = base_request(abi::Format::vhdx, c.size);
    r.vhdx_subformat = uint32_t(c.fixed ? abi::VhdxSubformat::fixed : abi::VhdxSubformat::dynamic);
    r.vhdx_block_size = uint32_t(c.block);
    r.vhdx_log_size = c.log >= 0 ? uint64_t(c.log) : 1 * MiB;
    if (c.zero) r.flags |= abi::kCreateBlockStateZero;
    return r;
}

Status emit(const abi::CreateRequest& r, SparseSink& sink, EmitOutput& out) {
    Scratch scratch;
    EmitInput in{&r, r.size, false, 0};
    return formats::vhdx_emit(in, sink, scratch.arena, out);
}

std::string case_name(const ::testing::TestParamInfo<VhdxCase>& p) {
    const VhdxCase& c = p.param;
    return std::string(c.fixed ? "fixed" : "dynamic") + (c.zero ? "_zero" : "_nozero") + "_s" +
           std::to_string(c.size) + "_b" + std::to_string(c.block) + "_l" + (c.log < 0 ? std::string("def") : std::to_string(c.log));
}

class VhdxIdentity : public ::testing::TestWithParam<VhdxCase> {};

TEST_P(VhdxIdentity, MatchesQemuImg) {
    INSTAR_REQUIRE_QEMU_IMG();
    const VhdxCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string ref = dir.file("ref.vhdx"), ours = dir.file("ours.vhdx");
    CommandResult made =
        run_command(qemu_img() + " create -q -f vhdx -o " + options(c) + " " + shell_quote(ref) + " " + std::to_string(c.size));
    ASSERT_EQ(made.status, 0) << made.output;

    abi::CreateRequest req = vhdx_request(c);
    SparseSink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(req, sink, out), formats::kOk);
    EXPECT_FALSE(sink.overlapping);
    EXPECT_FALSE(sink.out_of_order);
    EXPECT_EQ(sink.preallocated, 0u);  // qemu leaves even a fixed payload unallocated

    uint64_t metadata = metadata_offset_of(ref);
    EXPECT_TRUE(same_image(ref, sink, random_fields(metadata)));

    // The masked fields obey qemu's rules in both files.
    for (bool mine : {false, true}) {
        auto bytes = [&](uint64_t at, size_t n) { return mine ? sink.read(at, n) : read_range(ref, at, n); };
        uint64_t s1 = formats::load_le64(bytes(kHeaders[0] + 8, 8).data());
        uint64_t s2 = formats::load_le64(bytes(kHeaders[1] + 8, 8).data());
        EXPECT_EQ(s2, s1 + 1) << (mine ? "ours" : "qemu");
        EXPECT_LT(s1, 1ull << 32) << (mine ? "ours" : "qemu");
        for (uint64_t h : kHeaders) {
            EXPECT_TRUE(checksum_ok(bytes(h, 4096))) << (mine ? "ours" : "qemu") << " header at " << h;
            EXPECT_EQ(bytes(h + 16, 32), bytes(kHeaders[0] + 16, 32));  // same GUIDs in both headers
            std::vector<uint8_t> g = bytes(h + 16, 16);
            EXPECT_EQ(g[6] >> 4, 4);      // version-4 GUIDs
            EXPECT_EQ(g[8] >> 6, 2);
        }
        std::vector<uint8_t> p83 = bytes(metadata + 0x10000 + 16, 16);
        EXPECT_EQ(p83[6] >> 4, 4);
    }

    EXPECT_EQ(out.file_size, file_size(ref));
    uint64_t written = 0;
    for (auto& [o, d] : sink.writes) written += d.size();
    EXPECT_EQ(out.metadata_bytes, written);

    Info theirs = qemu_info(ref, "vhdx");
    ASSERT_TRUE(theirs.ok) << theirs.text;
    ASSERT_TRUE(sink.save(ours));
    Info mine = qemu_info(ours, "vhdx");
    ASSERT_TRUE(mine.ok) << mine.text;
    EXPECT_EQ(mine.virtual_size, theirs.virtual_size);
    EXPECT_EQ(mine.cluster_size, theirs.cluster_size);
    EXPECT_EQ(out.virtual_size, uint64_t(theirs.virtual_size));
    EXPECT_EQ(out.unit_size, uint64_t(theirs.cluster_size));
    CommandResult check = run_command(qemu_img() + " check -f vhdx " + shell_quote(ours));
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find("No errors"), std::string::npos) << check.output;

    const std::string io_tool = qemu_io();
    if (!c.write_test || io_tool.empty()) return;
    uint64_t at = out.virtual_size / 2 / 512 * 512;
    CommandResult io = run_command(io_tool + " -f vhdx -c 'write -P 0x6b " + std::to_string(at) + " 64k' -c 'read -P 0x6b " +
                       std::to_string(at) + " 64k' -c 'read -P 0 0 4k' " + shell_quote(ours));
    EXPECT_EQ(io.status, 0) << io.output;
    EXPECT_EQ(io.output.find("fail"), std::string::npos) << io.output;
    check = run_command(qemu_img() + " check -f vhdx " + shell_quote(ours));
    EXPECT_EQ(check.status, 0) << check.output;
}

std::vector<VhdxCase> identity_cases() {
    std::vector<VhdxCase> v;
    // Sizes × subformat × block_state_zero, qemu's automatic block size.
    for (bool fixed : {false, true})
        for (bool zero : {true, false})
            for (uint64_t s : {uint64_t(0), uint64_t(1), 1 * MiB, 16 * MiB, 64 * MiB, uint64_t(1000000007), 1 * GiB,
                               1 * GiB + 512, 2 * TiB}) {
                VhdxCase c{s};
                c.fixed = fixed;
                c.zero = zero;
                c.write_test = s == 64 * MiB;
                v.push_back(c);
            }
    // Explicit block sizes, including ones qemu rounds up or clamps.
    for (uint64_t b : {uint64_t(1), 1 * MiB, 2 * MiB, 1 * MiB + 1, 32 * MiB, 256 * MiB, 257 * MiB, 1024 * MiB})
        for (bool fixed : {false, true}) {
            VhdxCase c{uint64_t(1000000007)};
            c.fixed = fixed;
            c.block = b;
            v.push_back(c);
        }
    // A large disk with small blocks: a BAT of many chunks with bitmap slots.
    for (bool fixed : {false, true}) {
        VhdxCase c{2 * TiB};
        c.fixed = fixed;
        c.zero = fixed;
        c.block = 1 * MiB;
        v.push_back(c);
    }
    // Log sizes, including one qemu rounds up.
    for (uint64_t l : {uint64_t(1), 2 * MiB, 1 * MiB + 1, 32 * MiB}) {
        VhdxCase c{64 * MiB};
        c.log = int64_t(l);
        v.push_back(c);
        c.fixed = true;
        v.push_back(c);
    }
    // qemu's maximum, dynamic only (a fixed one does not fit ext4).
    for (bool zero : {true, false}) {
        VhdxCase c{64 * TiB};
        c.zero = zero;
        v.push_back(c);
    }
    // Thresholds of the automatic block size.
    for (uint64_t s : {100 * GiB, 100 * GiB + 512, 32 * TiB, 32 * TiB + 512}) v.push_back(VhdxCase{s});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Matrix, VhdxIdentity, ::testing::ValuesIn(identity_cases()), case_name);

// Options qemu refuses, refused the same way.
struct Refusal {
    const char* name;
    VhdxCase c;
    Status expected;
};

class VhdxRefusal : public ::testing::TestWithParam<Refusal> {};

TEST_P(VhdxRefusal, RefusedLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Refusal& r = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    CommandResult made = run_command(qemu_img() + " create -q -f vhdx -o " + options(r.c) + " " + shell_quote(dir.file("ref.vhdx")) +
                         " " + std::to_string(r.c.size));
    EXPECT_NE(made.status, 0) << "qemu-img accepted it";
    SparseSink sink;
    EmitOutput out{};
    abi::CreateRequest req = vhdx_request(r.c);
    EXPECT_EQ(emit(req, sink, out), r.expected);
    EXPECT_TRUE(sink.writes.empty());
}

VhdxCase with_block(uint64_t b) {
    VhdxCase c{64 * MiB};
    c.block = b;
    return c;
}
VhdxCase with_log(uint64_t l) {
    VhdxCase c{64 * MiB};
    c.log = int64_t(l);
    return c;
}

const Refusal kRefusals[] = {
    {"over_64t", VhdxCase{64 * TiB + 512}, Status::size_out_of_range},
    {"rounds_over_64t", VhdxCase{64 * TiB + 1}, Status::size_out_of_range},
    {"way_over", VhdxCase{1ull << 62}, Status::size_out_of_range},
    {"block_3m", with_block(3 * MiB), Status::invalid_option},
    {"block_rounds_to_3m", with_block(2 * MiB + 1), Status::invalid_option},
    {"block_96m", with_block(96 * MiB), Status::invalid_option},
    {"log_4g", with_log(4 * GiB), Status::invalid_option},
    {"log_rounds_to_4g", with_log(4 * GiB - MiB + 1), Status::invalid_option},
    {"log_zero", with_log(0), Status::invalid_option},
};

INSTANTIATE_TEST_SUITE_P(Options, VhdxRefusal, ::testing::ValuesIn(kRefusals),
                         [](const ::testing::TestParamInfo<Refusal>& p) { return std::string(p.param.name); });

TEST(VhdxCreate, RandomFieldsComeFromTheDocumentedEntropyBytes) {
    VhdxCase c{64 * MiB};
    abi::CreateRequest req = vhdx_request(c);
    for (int i = 0; i < 64; ++i) req.entropy[i] = uint8_t(i);
    req.entropy[48] = 0xFE;
    req.entropy[49] = 0xFF;
    req.entropy[50] = 0xFF;
    req.entropy[51] = 0xFF;
    SparseSink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(req, sink, out), formats::kOk);
    auto guid = [](int first) {
        std::vector<uint8_t> g(16);
        for (int i = 0; i < 16; ++i) g[i] = uint8_t(first + i);
        g[6] = uint8_t((g[6] & 0x0F) | 0x40);
        g[8] = uint8_t((g[8] & 0x3F) | 0x80);
        return g;
    };
    for (uint64_t h : kHeaders) {
        EXPECT_EQ(sink.read(h + 16, 16), guid(0));   // file write GUID: entropy[0..15]
        EXPECT_EQ(sink.read(h + 32, 16), guid(16));  // data write GUID: entropy[16..31]
        EXPECT_EQ(sink.read(h + 48, 16), std::vector<uint8_t>(16, 0));  // no log
    }
    // Sequence numbers: le32(entropy[48..51]), then one more, in 64 bits.
    EXPECT_EQ(formats::load_le64(sink.read(kHeaders[0] + 8, 8).data()), 0xFFFFFFFEull);
    EXPECT_EQ(formats::load_le64(sink.read(kHeaders[1] + 8, 8).data()), 0xFFFFFFFFull);
    // Virtual disk id (page 83 data): entropy[32..47]. Metadata at 3 MiB
    // for a 64 MiB disk with the default log.
    EXPECT_EQ(sink.read(3 * MiB + 0x10000 + 16, 16), guid(32));
    EXPECT_TRUE(checksum_ok(sink.read(kHeaders[0], 4096)));
    EXPECT_TRUE(checksum_ok(sink.read(kHeaders[1], 4096)));
}

TEST(VhdxCreate, RefusesInvalidRequests) {
    struct Bad {
        const char* what;
        void (*apply)(abi::CreateRequest&);
    };
    const Bad bad[] = {
        {"subformat", [](abi::CreateRequest& r) { r.vhdx_subformat = 2; }},
        {"preallocation", [](abi::CreateRequest& r) { r.preallocation = 7; }},
        {"backing file", [](abi::CreateRequest& r) { r.flags |= abi::kCreateHasBacking | abi::kCreateBackingAttached; }},
        {"vpc flag", [](abi::CreateRequest& r) { r.flags |= abi::kCreateForceSize; }},
        {"no size", [](abi::CreateRequest& r) { r.flags &= ~abi::kCreateHasSize; }},
        {"format", [](abi::CreateRequest& r) { r.format = uint32_t(abi::Format::qcow2); }},
        {"huge log", [](abi::CreateRequest& r) { r.vhdx_log_size = ~0ull; }},
    };
    for (const Bad& b : bad) {
        abi::CreateRequest req = vhdx_request(VhdxCase{64 * MiB});
        b.apply(req);
        SparseSink sink;
        EmitOutput out{};
        EXPECT_EQ(emit(req, sink, out), Status::invalid_option) << b.what;
        EXPECT_TRUE(sink.writes.empty()) << b.what;
    }
}

TEST(VhdxCreate, BatWrittenInPiecesFromTinyScratch) {
    VhdxCase c{2 * TiB};
    c.fixed = true;
    c.zero = false;
    c.block = 1 * MiB;
    abi::CreateRequest req = vhdx_request(c);
    SparseSink big, small;
    EmitOutput out1{}, out2{};
    ASSERT_EQ(emit(req, big, out1), formats::kOk);
    std::vector<uint8_t> buf(600);
    formats::Arena arena(buf.data(), buf.size());
    EmitInput in{&req, req.size, false, 0};
    ASSERT_EQ(formats::vhdx_emit(in, small, arena, out2), formats::kOk);
    EXPECT_EQ(small.size, big.size);
    uint64_t bat_bytes = (2 * TiB / MiB + 2 * TiB / MiB / 4096) * 8;
    EXPECT_EQ(small.read(2 * MiB, bat_bytes), big.read(2 * MiB, bat_bytes));
    formats::Arena none(buf.data(), 8);
    SparseSink failed;
    EXPECT_EQ(formats::vhdx_emit(in, failed, none, out2), Status::scratch_exceeded);
}

}  // namespace
}  // namespace instar::testing

namespace instar::testing {
namespace {

// Arbitrary requests (as a fuzzer would send): never a crash, never a write
// outside the file, nothing written when refused.
TEST(VhdxCreate, ArbitraryRequestsAreSafe) {
    std::mt19937_64 rng(7);
    int accepted = 0;
    // Fewer than for vpc: accepted multi-TiB requests with 1 MiB blocks
    // generate BATs of hundreds of MiB.
    for (int i = 0; i < 1000; ++i) {
        abi::CreateRequest req = base_request(abi::Format::vhdx, 0);
        req.size = vv::pick_size(rng);
        req.flags = rng() % 4 ? (abi::kCreateHasSize | (rng() % 2 ? abi::kCreateBlockStateZero : 0))
                              : vv::pick_u32(rng);
        req.vhdx_subformat = rng() % 4 ? uint32_t(rng() % 2) : vv::pick_u32(rng);
        req.vhdx_block_size = rng() % 2 ? 0 : vv::pick_u32(rng);
        req.vhdx_log_size = rng() % 2 ? (1 << 20) : vv::pick_size(rng);
        req.preallocation = uint32_t(rng() % 6);
        for (auto& b : req.entropy) b = uint8_t(rng());
        CountingSink sink;
        Scratch scratch(64 * 1024);
        EmitOutput out{};
        EmitInput in{&req, req.size, false, 0};
        Status s = formats::vhdx_emit(in, sink, scratch.arena, out);
        if (s == formats::kOk) {
            ++accepted;
            ASSERT_TRUE(sink.size_set);
            EXPECT_LE(sink.end, sink.size);
            EXPECT_EQ(out.file_size, sink.size);
            EXPECT_EQ(out.metadata_bytes, sink.written);
            EXPECT_LE(out.virtual_size, 64ull << 40);
            EXPECT_GE(out.virtual_size, req.size);
            EXPECT_TRUE(out.unit_size >= (1u << 20) && out.unit_size <= (256u << 20) &&
                        (out.unit_size & (out.unit_size - 1)) == 0);
        } else {
            EXPECT_TRUE(s == Status::invalid_option || s == Status::size_out_of_range) << unsigned(s);
            EXPECT_EQ(sink.writes, 0u);
            EXPECT_FALSE(sink.size_set);
        }
    }
    EXPECT_GT(accepted, 50);
}

}  // namespace
}  // namespace instar::testing
