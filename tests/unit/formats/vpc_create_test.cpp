// vpc_emit against the real qemu-img 7.2: byte identity over the option
// matrix, qemu-img info on what we write, refusals where qemu refuses.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vpc/vpc_create.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using namespace vv;
using formats::EmitInput;
using formats::EmitOutput;
using formats::Status;

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
// Geometry landmarks: 16 heads x 63 sectors x 65535 cylinders (where the
// spec switches to 255 sectors per track) and the maximum geometry (from
// where the size is taken as given).
constexpr uint64_t kChs63 = 65535ull * 16 * 63 * 512;
constexpr uint64_t kChsMax = 65535ull * 16 * 255 * 512;
constexpr uint64_t kMaxBytes = 0xff000000ull * 512;  // 2040 GiB

// Footer fields qemu fills from the clock and the RNG, and the checksum
// over them. Offsets within the 512-byte footer.
constexpr uint64_t kTimestampAt = 24, kChecksumAt = 64, kUuidAt = 68;
std::vector<Mask> footer_masks(uint64_t footer) {
    return {{footer + kTimestampAt, 4}, {footer + kChecksumAt, 4}, {footer + kUuidAt, 16}};
}

abi::CreateRequest vpc_request(uint64_t size, bool fixed, bool force, uint32_t block = 2 * MiB) {
    abi::CreateRequest r = base_request(abi::Format::vpc, size);
    r.vpc_subformat = uint32_t(fixed ? abi::VpcSubformat::fixed : abi::VpcSubformat::dynamic);
    r.vpc_block_size = block;
    if (force) r.flags |= abi::kCreateForceSize;
    return r;
}

Status emit(const abi::CreateRequest& r, SparseSink& sink, EmitOutput& out) {
    Scratch scratch;
    EmitInput in{&r, r.size, false, 0};
    return formats::vpc_emit(in, sink, scratch.arena, out);
}

uint64_t written_bytes(const SparseSink& s) {
    uint64_t n = 0;
    for (auto& [o, d] : s.writes) n += d.size();
    return n;
}

struct VpcCase {
    uint64_t size;
    bool fixed;
    bool force;
};

std::string case_name(const ::testing::TestParamInfo<VpcCase>& p) {
    return std::string(p.param.fixed ? "fixed" : "dynamic") + (p.param.force ? "_force_" : "_") +
           std::to_string(p.param.size);
}

class VpcIdentity : public ::testing::TestWithParam<VpcCase> {};

TEST_P(VpcIdentity, MatchesQemuImg) {
    INSTAR_REQUIRE_QEMU_IMG();
    const VpcCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string ref = dir.file("ref.vhd"), ours = dir.file("ours.vhd");
    CommandResult made = run_command(qemu_img() + " create -q -f vpc -o subformat=" + (c.fixed ? "fixed" : "dynamic") +
                         ",force_size=" + (c.force ? "on " : "off ") + shell_quote(ref) + " " + std::to_string(c.size));
    ASSERT_EQ(made.status, 0) << made.output;

    abi::CreateRequest req = vpc_request(c.size, c.fixed, c.force);
    SparseSink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(req, sink, out), formats::kOk);
    EXPECT_FALSE(sink.overlapping);
    EXPECT_FALSE(sink.out_of_order);

    uint64_t footer = sink.size - 512;
    std::vector<Mask> masks = footer_masks(footer);
    if (!c.fixed) {
        for (Mask m : footer_masks(0)) masks.push_back(m);
        // The copy at 0 is the footer itself, random fields included.
        EXPECT_EQ(sink.read(0, 512), sink.read(footer, 512));
    }
    EXPECT_TRUE(same_image(ref, sink, masks));

    EXPECT_EQ(out.file_size, file_size(ref));
    EXPECT_EQ(out.metadata_bytes, written_bytes(sink));
    EXPECT_EQ(out.unit_size, c.fixed ? 0 : 2 * MiB);

    Info theirs = qemu_info(ref, "vpc");
    ASSERT_TRUE(sink.save(ours));
    // qemu-img info verifies the footer checksum, so this also proves ours.
    Info mine = qemu_info(ours, "vpc");
    if (c.fixed && c.size == 0) {
        // qemu writes it, but then takes the lone footer at offset 0 for a
        // dynamic image's and cannot open it. Same bytes, same fate.
        EXPECT_FALSE(theirs.ok);
        EXPECT_FALSE(mine.ok);
        EXPECT_EQ(out.virtual_size, 0u);
        return;
    }
    ASSERT_TRUE(theirs.ok) << theirs.text;
    ASSERT_TRUE(mine.ok) << mine.text;
    EXPECT_EQ(mine.virtual_size, theirs.virtual_size);
    EXPECT_EQ(mine.cluster_size, theirs.cluster_size);
    EXPECT_EQ(out.virtual_size, uint64_t(theirs.virtual_size));
}

std::vector<VpcCase> identity_cases() {
    const uint64_t sizes[] = {0,
                              1,
                              511,
                              513,
                              1 * MiB,
                              16 * MiB,
                              64 * MiB,
                              1000000007,
                              1 * GiB,
                              127 * GiB,
                              kChs63 - 512,
                              kChs63,
                              kChs63 + 512,
                              kChsMax - 512,
                              kChsMax,
                              kChsMax + 512,
                              kMaxBytes - 512,
                              kMaxBytes};
    std::vector<VpcCase> v;
    for (bool fixed : {false, true})
        for (bool force : {false, true})
            for (uint64_t s : sizes) v.push_back({s, fixed, force});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Matrix, VpcIdentity, ::testing::ValuesIn(identity_cases()), case_name);

// qemu refuses above 2040 GiB; so must we, with the size error.
class VpcTooLarge : public ::testing::TestWithParam<VpcCase> {};

TEST_P(VpcTooLarge, RefusedLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    const VpcCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    CommandResult made = run_command(qemu_img() + " create -q -f vpc -o subformat=" + (c.fixed ? "fixed" : "dynamic") +
                         ",force_size=" + (c.force ? "on " : "off ") + shell_quote(dir.file("ref.vhd")) + " " +
                         std::to_string(c.size));
    EXPECT_NE(made.status, 0) << "qemu-img accepted " << c.size;

    SparseSink sink;
    EmitOutput out{};
    EXPECT_EQ(emit(vpc_request(c.size, c.fixed, c.force), sink, out), Status::size_out_of_range);
    EXPECT_TRUE(sink.writes.empty());
}

std::vector<VpcCase> too_large_cases() {
    std::vector<VpcCase> v;
    for (bool fixed : {false, true})
        for (bool force : {false, true})
            for (uint64_t s : {kMaxBytes + 1, kMaxBytes + 512, 2048 * GiB, 64 * 1024 * GiB}) v.push_back({s, fixed, force});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Sizes, VpcTooLarge, ::testing::ValuesIn(too_large_cases()), case_name);

// Block sizes qemu 7.2 cannot write but reads: every image must open in
// qemu with the expected size and block size, and hold data.
struct BlockCase {
    uint32_t block;
    uint64_t size;
};

class VpcBlockSize : public ::testing::TestWithParam<BlockCase> {};

TEST_P(VpcBlockSize, QemuOpensAndUsesIt) {
    INSTAR_REQUIRE_QEMU_IMG();
    const BlockCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string ref = dir.file("ref.vhd"), ours = dir.file("ours.vhd");
    ASSERT_EQ(run_command(qemu_img() + " create -q -f vpc " + shell_quote(ref) + " " + std::to_string(c.size)).status, 0);

    SparseSink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(vpc_request(c.size, false, false, c.block), sink, out), formats::kOk);
    ASSERT_TRUE(sink.save(ours));
    Info theirs = qemu_info(ref, "vpc");
    Info mine = qemu_info(ours, "vpc");
    ASSERT_TRUE(mine.ok) << mine.text;
    EXPECT_EQ(mine.virtual_size, theirs.virtual_size);
    EXPECT_EQ(mine.cluster_size, c.block);
    EXPECT_EQ(out.unit_size, c.block);

    // The footer carries no block size: identical to qemu's but for the
    // random fields.
    std::vector<uint8_t> their_footer = read_range(ref, 0, 512);
    std::vector<uint8_t> our_footer = sink.read(0, 512);
    for (Mask m : footer_masks(0))
        for (uint64_t i = m.offset; i < m.offset + m.len; ++i) their_footer[i] = our_footer[i] = 0;
    EXPECT_EQ(our_footer, their_footer);

    uint64_t entries = (out.virtual_size / 512 + c.block / 512 - 1) / (c.block / 512);
    std::vector<uint8_t> header = sink.read(512, 1024);
    EXPECT_EQ(formats::load_be32(header.data() + 28), entries);
    EXPECT_EQ(formats::load_be32(header.data() + 32), c.block);
    EXPECT_EQ(sink.size, 1536 + (entries * 4 + 511) / 512 * 512 + 512);

    const std::string io_tool = qemu_io();
    if (io_tool.empty()) return;
    // A write spanning a block boundary near the end of the disk.
    uint64_t at = (out.virtual_size - 4096) / 512 * 512 - 1024;
    CommandResult io = run_command(io_tool + " -f vpc -c 'write -P 0x5a " + std::to_string(at) + " 3584' -c 'read -P 0x5a " +
                       std::to_string(at) + " 3584' " + shell_quote(ours));
    EXPECT_EQ(io.status, 0) << io.output;
    EXPECT_EQ(io.output.find("fail"), std::string::npos) << io.output;
    EXPECT_TRUE(qemu_info(ours, "vpc").ok);
}

std::vector<BlockCase> block_cases() {
    std::vector<BlockCase> v;
    for (uint32_t b : {512 * 1024u, 1u << 20, 4u << 20, 8u << 20, 256u << 20})
        for (uint64_t s : {uint64_t(1 * MiB), uint64_t(1000000007), kMaxBytes}) v.push_back({b, s});
    return v;
}

INSTANTIATE_TEST_SUITE_P(Sizes, VpcBlockSize, ::testing::ValuesIn(block_cases()),
                         [](const ::testing::TestParamInfo<BlockCase>& p) {
                             return std::to_string(p.param.block) + "_" + std::to_string(p.param.size);
                         });

// The fields qemu randomises come from the request, where documented.
TEST(VpcCreate, TimestampAndUuidComeFromTheRequest) {
    abi::CreateRequest req = vpc_request(1 * MiB, false, false);
    req.timestamp = 946684800ull + 0x12345678;
    for (int i = 0; i < 16; ++i) req.entropy[i] = uint8_t(0xF0 + i);
    SparseSink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(req, sink, out), formats::kOk);
    std::vector<uint8_t> f = sink.read(0, 512);
    EXPECT_EQ(formats::load_be32(f.data() + kTimestampAt), 0x12345678u);
    // entropy[0..15], stamped version 4 / RFC 4122 variant like qemu's.
    const uint8_t uuid[16] = {0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0x46, 0xF7,
                              0xB8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF};
    EXPECT_EQ(std::vector<uint8_t>(f.begin() + kUuidAt, f.begin() + kUuidAt + 16), std::vector<uint8_t>(uuid, uuid + 16));
    uint32_t sum = 0;
    for (int i = 0; i < 512; ++i)
        if (i < 64 || i >= 68) sum += f[i];
    EXPECT_EQ(formats::load_be32(f.data() + kChecksumAt), ~sum);
}

TEST(VpcCreate, TimestampBeforeTheVhdEpochWrapsLikeQemu) {
    abi::CreateRequest req = vpc_request(1 * MiB, true, false);
    req.timestamp = 946684800ull - 1;
    SparseSink sink;
    EmitOutput out{};
    ASSERT_EQ(emit(req, sink, out), formats::kOk);
    EXPECT_EQ(formats::load_be32(sink.read(sink.size - 512, 512).data() + kTimestampAt), 0xFFFFFFFFu);
}

TEST(VpcCreate, RefusesInvalidOptions) {
    struct Bad {
        const char* what;
        void (*apply)(abi::CreateRequest&);
    };
    const Bad bad[] = {
        {"subformat", [](abi::CreateRequest& r) { r.vpc_subformat = 2; }},
        {"block not power of two", [](abi::CreateRequest& r) { r.vpc_block_size = 3 * MiB; }},
        {"block below 512K", [](abi::CreateRequest& r) { r.vpc_block_size = 256 * KiB; }},
        {"block above 256M", [](abi::CreateRequest& r) { r.vpc_block_size = 512 * MiB; }},
        {"block zero", [](abi::CreateRequest& r) { r.vpc_block_size = 0; }},
        {"preallocation", [](abi::CreateRequest& r) { r.preallocation = 4; }},
        {"backing file", [](abi::CreateRequest& r) { r.flags |= abi::kCreateHasBacking; }},
        {"qcow2 flag", [](abi::CreateRequest& r) { r.flags |= abi::kCreateLazyRefcounts; }},
        {"no size", [](abi::CreateRequest& r) { r.flags &= ~abi::kCreateHasSize; }},
        {"format", [](abi::CreateRequest& r) { r.format = uint32_t(abi::Format::vhdx); }},
    };
    for (const Bad& b : bad) {
        abi::CreateRequest req = vpc_request(1 * MiB, false, false);
        b.apply(req);
        SparseSink sink;
        EmitOutput out{};
        EXPECT_EQ(emit(req, sink, out), Status::invalid_option) << b.what;
        EXPECT_TRUE(sink.writes.empty()) << b.what;
    }
}

TEST(VpcCreate, FixedIgnoresBlockSizeAndPreallocation) {
    // qemu-img accepts preallocation for vpc and ignores it; a fixed image
    // has no blocks.
    for (uint32_t prealloc = 0; prealloc <= 3; ++prealloc) {
        abi::CreateRequest req = vpc_request(16 * MiB, true, false, 0);
        req.preallocation = prealloc;
        SparseSink sink;
        EmitOutput out{};
        ASSERT_EQ(emit(req, sink, out), formats::kOk);
        EXPECT_EQ(sink.preallocated, 0u);
        EXPECT_EQ(sink.writes.size(), 1u);
    }
}

TEST(VpcCreate, WorksWithTinyScratch) {
    // The BAT of a 2040 GiB disk is 4 MiB: it must be written in pieces.
    std::vector<uint8_t> small(2048);
    formats::Arena arena(small.data(), small.size());
    abi::CreateRequest req = vpc_request(kMaxBytes, false, false, 512 * 1024);
    SparseSink sink;
    EmitOutput out{};
    EmitInput in{&req, req.size, false, 0};
    ASSERT_EQ(formats::vpc_emit(in, sink, arena, out), formats::kOk);
    uint64_t bat = (0xff000000ull / 1024 * 4 + 511) / 512 * 512;
    EXPECT_EQ(sink.size, 1536 + bat + 512);
    EXPECT_EQ(sink.read(1536 + bat - 1, 1)[0], 0xFF);
    std::vector<uint8_t> none(16);
    formats::Arena empty(none.data(), none.size());
    SparseSink sink2;
    EXPECT_EQ(formats::vpc_emit(in, sink2, empty, out), Status::scratch_exceeded);
}

}  // namespace
}  // namespace instar::testing

namespace instar::testing {
namespace {

// Arbitrary requests (as a fuzzer would send): never a crash, never a write
// outside the file, nothing written when refused.
TEST(VpcCreate, ArbitraryRequestsAreSafe) {
    std::mt19937_64 rng(99);
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        abi::CreateRequest req = base_request(abi::Format::vpc, 0);
        req.size = vv::pick_size(rng);
        req.flags = rng() % 4 ? (abi::kCreateHasSize | (rng() % 2 ? abi::kCreateForceSize : 0)) : vv::pick_u32(rng);
        req.vpc_subformat = rng() % 4 ? uint32_t(rng() % 2) : vv::pick_u32(rng);
        req.vpc_block_size = vv::pick_u32(rng);
        req.preallocation = uint32_t(rng() % 6);
        for (auto& b : req.entropy) b = uint8_t(rng());
        req.timestamp = rng();
        CountingSink sink;
        Scratch scratch(64 * 1024);
        EmitOutput out{};
        EmitInput in{&req, req.size, false, 0};
        Status s = formats::vpc_emit(in, sink, scratch.arena, out);
        if (s == formats::kOk) {
            ++accepted;
            ASSERT_TRUE(sink.size_set);
            EXPECT_LE(sink.end, sink.size);
            EXPECT_EQ(out.file_size, sink.size);
            EXPECT_EQ(out.metadata_bytes, sink.written);
            EXPECT_LE(out.virtual_size, 0xff000000ull * 512);
            EXPECT_GE(out.virtual_size, req.size);  // rounded up, never truncated
        } else {
            EXPECT_TRUE(s == Status::invalid_option || s == Status::size_out_of_range) << unsigned(s);
            EXPECT_EQ(sink.writes, 0u);
            EXPECT_FALSE(sink.size_set);
        }
    }
    EXPECT_GT(accepted, 100);
}

}  // namespace
}  // namespace instar::testing
