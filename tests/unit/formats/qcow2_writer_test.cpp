// The qcow2 writer (what convert -O qcow2 writes with) on its own: random
// data runs in guest order, every layout option, then the image read back
// through instar's own qcow2 reader must hold exactly the data written,
// and every cluster the tables point to must be counted once in the
// refcounts. Byte identity with qemu-img is the integration suite's
// (tests/integration/test_convert_qcow2.py).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "abi/ops/create.h"
#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_options.h"
#include "formats/qcow2/qcow2_reader.h"
#include "formats/qcow2/qcow2_writer.h"
#include "memory_image.h"
#include "writer_round_trip.h"

namespace instar::testing {
namespace {

namespace q = formats::qcow2;

struct Case {
    const char* name;
    uint32_t cluster_size;
    uint32_t refcount_bits;
    bool extended_l2;
    uint32_t version;
    abi::Preallocation prealloc;
    uint64_t size;
};

uint64_t div_ceil(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

q::CreateParams params_for(const Case& c) {
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::qcow2);
    req.flags = abi::kCreateHasSize | (c.extended_l2 ? abi::kCreateExtendedL2 : 0);
    req.size = c.size;
    req.preallocation = uint32_t(c.prealloc);
    req.qcow2_version = c.version;
    req.cluster_size = c.cluster_size;
    req.refcount_bits = c.refcount_bits;
    q::CreateParams p{};
    EXPECT_EQ(q::parse_create_request(req, c.size, p), formats::kOk);
    return p;
}

// Every host cluster an L1, L2 or refcount table entry points to, and the
// fixed metadata, must have refcount exactly 1, and no other cluster a
// refcount.
void expect_refcounts_consistent(const std::vector<uint8_t>& img, const q::CreateParams& p) {
    const uint64_t cs = uint64_t(1) << p.cluster_bits;
    auto be64 = [&](uint64_t off) { return formats::load_be64(img.data() + off); };
    auto be32 = [&](uint64_t off) { return formats::load_be32(img.data() + off); };
    std::multiset<uint64_t> used;  // host cluster indexes
    used.insert(0);
    const uint64_t l1_size = be32(q::kHdrL1Size), l1_off = be64(q::kHdrL1TableOffset);
    const uint64_t rt_off = be64(q::kHdrRefcountTableOffset), rt_clusters = be32(q::kHdrRefcountTableClusters);
    for (uint64_t c = 0; c < div_ceil(l1_size * 8, cs); ++c) used.insert(l1_off / cs + c);
    for (uint64_t c = 0; c < rt_clusters; ++c) used.insert(rt_off / cs + c);
    const uint64_t entry_bytes = p.extended_l2 ? 16 : 8;
    for (uint64_t i = 0; i < l1_size; ++i) {
        const uint64_t l2 = be64(l1_off + i * 8) & q::kL1OffsetMask;
        if (!l2) continue;
        used.insert(l2 / cs);
        for (uint64_t k = 0; k < cs / entry_bytes; ++k) {
            const uint64_t e = be64(l2 + k * entry_bytes) & q::kL2OffsetMask;
            if (e) used.insert(e / cs);
        }
    }
    const uint64_t per_block = cs * 8 >> p.refcount_order;
    for (uint64_t i = 0; i < rt_clusters * cs / 8; ++i) {
        const uint64_t block = be64(rt_off + i * 8);
        if (block) used.insert(block / cs);
    }
    auto refcount = [&](uint64_t cluster) -> uint64_t {
        const uint64_t block = be64(rt_off + cluster / per_block * 8);
        if (!block) return 0;
        const uint64_t index = cluster % per_block;
        const uint32_t bits = 1u << p.refcount_order;
        if (bits >= 8) {
            uint64_t v = 0;
            for (uint32_t b = 0; b < bits / 8; ++b) v = v << 8 | img[block + index * bits / 8 + b];
            return v;
        }
        return (img[block + index * bits / 8] >> (index * bits % 8)) & ((1u << bits) - 1);
    };
    for (uint64_t c = 0; c < img.size() / cs; ++c) EXPECT_EQ(refcount(c), used.count(c)) << "cluster " << c;
}

// The image opens with instar's own reader and holds exactly `expect`.
void expect_reads_back(const std::vector<uint8_t>& image, const std::vector<uint8_t>& expect) {
    MemorySource src(image);
    std::vector<uint8_t> read_scratch(32u << 20);
    formats::Arena read_arena(read_scratch.data(), read_scratch.size());
    formats::BlockReader* reader = nullptr;
    ASSERT_EQ(formats::qcow2_open_reader({src, read_arena, nullptr, nullptr}, reader), formats::kOk);
    ASSERT_EQ(reader->virtual_size(), expect.size());
    std::vector<uint8_t> got(expect.size(), 0xee);
    ASSERT_EQ(reader->read(0, got.data(), got.size()), formats::kOk);
    ASSERT_TRUE(got == expect);
}

class WriterTest : public ::testing::TestWithParam<Case> {};

TEST_P(WriterTest, ReadsBackWhatWasWritten) {
    const Case& c = GetParam();
    const q::CreateParams p = params_for(c);
    std::vector<uint8_t> scratch(48u << 20);
    formats::Arena arena(scratch.data(), scratch.size());
    MemorySink sink;
    q::Writer w;
    ASSERT_EQ(w.open(p, arena, sink), formats::kOk);

    std::vector<uint8_t> expect(c.size, 0);
    std::mt19937 rng(7);
    for (auto [at, len] : write_pattern(c.size, c.cluster_size, 11)) {
        for (uint64_t i = 0; i < len; ++i) expect[at + i] = uint8_t(rng() | 1);
        ASSERT_EQ(w.write(at, expect.data() + at, len), formats::kOk) << at << "+" << len;
    }
    ASSERT_EQ(w.finish(), formats::kOk);
    ASSERT_EQ(sink.bytes.size(), w.file_size());

    expect_reads_back(sink.bytes, expect);
    if (c.prealloc == abi::Preallocation::off) expect_refcounts_consistent(sink.bytes, p);
}

const Case kCases[] = {
    {"default", 65536, 16, false, 3, abi::Preallocation::off, 48u << 20},
    {"v2", 65536, 16, false, 2, abi::Preallocation::off, 48u << 20},
    {"c512", 512, 16, false, 3, abi::Preallocation::off, 8u << 20},
    // Refcount blocks of 64 entries: the table grows and moves many
    // times, and data lands on the clusters it leaves.
    {"c512_r64", 512, 64, false, 3, abi::Preallocation::off, 8u << 20},
    {"c4k_r1", 4096, 1, false, 3, abi::Preallocation::off, 16u << 20},
    {"c2M", 2u << 20, 16, false, 3, abi::Preallocation::off, 64u << 20},
    {"ext16k", 16384, 16, true, 3, abi::Preallocation::off, 16u << 20},
    {"ext64k", 65536, 16, true, 3, abi::Preallocation::off, 48u << 20},
    {"meta", 65536, 16, false, 3, abi::Preallocation::metadata, 16u << 20},
    {"falloc4k", 4096, 16, false, 3, abi::Preallocation::falloc, 8u << 20},
};

INSTANTIATE_TEST_SUITE_P(Layouts, WriterTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// convert -c: every cluster compressed (or stored plain where it does not
// shrink), packed into shared host clusters whose refcounts count each
// compressed cluster in them.
class CompressedWriterTest : public ::testing::TestWithParam<Case> {};

TEST_P(CompressedWriterTest, ReadsBackWhatWasWritten) {
    const Case& c = GetParam();
    q::CreateParams p = params_for(c);
    std::vector<uint8_t> scratch(48u << 20);
    formats::Arena arena(scratch.data(), scratch.size());
    MemorySink sink;
    q::Writer w;
    ASSERT_EQ(w.open(p, arena, sink, true), formats::kOk);
    std::vector<uint8_t> expect(c.size, 0);
    std::mt19937 rng(3);
    for (uint64_t at = 0; at < c.size; at += c.cluster_size) {
        const uint64_t len = std::min<uint64_t>(c.cluster_size, c.size - at);
        const int kind = int(rng() % 4);
        if (kind == 0) continue;  // left out, as convert leaves zero clusters
        for (uint64_t i = 0; i < len; ++i)
            expect[at + i] = kind == 1 ? uint8_t(rng()) : kind == 2 ? uint8_t(i / 7 % 5 + 'a') : uint8_t(at >> 9);
        ASSERT_EQ(w.write_compressed(at, expect.data() + at, len), formats::kOk) << at;
    }
    ASSERT_EQ(w.finish(), formats::kOk);
    ASSERT_EQ(sink.bytes.size(), w.file_size());
    EXPECT_EQ(sink.bytes.size() % 512, 0u);
    expect_reads_back(sink.bytes, expect);
}

const Case kCompressedCases[] = {
    {"default", 65536, 16, false, 3, abi::Preallocation::off, 8u << 20},
    {"c512", 512, 16, false, 3, abi::Preallocation::off, 1u << 20},
    {"c512_r64", 512, 64, false, 3, abi::Preallocation::off, 1u << 20},
    {"c4k_r1", 4096, 1, false, 3, abi::Preallocation::off, 4u << 20},
    {"ext16k", 16384, 16, true, 3, abi::Preallocation::off, 4u << 20},
    {"odd_size", 65536, 16, false, 3, abi::Preallocation::off, (3u << 20) + 1536},
};

INSTANTIATE_TEST_SUITE_P(Layouts, CompressedWriterTest, ::testing::ValuesIn(kCompressedCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(Qcow2Writer, RefusesAWriteBeforeAnEarlierTable) {
    const q::CreateParams p = params_for({"x", 512, 16, false, 3, abi::Preallocation::off, 1u << 20});
    std::vector<uint8_t> scratch(8u << 20);
    formats::Arena arena(scratch.data(), scratch.size());
    MemorySink sink;
    q::Writer w;
    ASSERT_EQ(w.open(p, arena, sink), formats::kOk);
    std::vector<uint8_t> data(512, 1);
    ASSERT_EQ(w.write(512 << 10, data.data(), 512), formats::kOk);
    EXPECT_EQ(w.write(0, data.data(), 512), formats::Status::internal);
    EXPECT_EQ(w.write((1u << 20) - 512, data.data(), 1024), formats::Status::internal);
}

}  // namespace
}  // namespace instar::testing
