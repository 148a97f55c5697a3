// The vmdk writer (what convert -O vmdk writes with) on its own: data runs
// in guest order into monolithicSparse and streamOptimized images, read
// back through instar's own vmdk reader, which must give exactly the data
// written; the layout qemu's allocation makes (grains in the order first
// written, both table copies alike); the limits. Byte identity with
// qemu-img is the integration suite's (tests/integration/test_convert_vmdk.py).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "abi/ops/create.h"
#include "formats/block/block_reader.h"
#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_reader.h"
#include "formats/vmdk/vmdk_writer.h"
#include "memory_image.h"
#include "writer_round_trip.h"
#include "vmdk_test_support.h"

namespace instar::testing {
namespace {

namespace v = formats::vmdk;
using formats::kOk;
using formats::Status;

constexpr uint64_t kGrain = 65536;

abi::CreateRequest request(uint64_t size, bool stream, uint32_t grain = kGrain) {
    abi::CreateRequest r = vmdk::default_request(size, "out.vmdk");
    r.grain_size = grain;
    if (stream) r.vmdk_subformat = uint32_t(abi::VmdkSubformat::stream_optimized);
    return r;
}

// A writer with its own scratch, opened on a request.
struct Opened {
    std::vector<uint8_t> scratch;
    formats::Arena arena;
    v::Writer w;
    explicit Opened(size_t scratch_bytes = 4u << 20) : scratch(scratch_bytes), arena(scratch.data(), scratch.size()) {}
    Status open(const abi::CreateRequest& r, formats::ImageSink& sink, bool compress = false) {
        return w.open(formats::WriterOpenParams{r, r.size, sink, arena, compress});
    }
};

void fill(std::vector<uint8_t>& expect, uint64_t at, uint64_t len, std::mt19937& rng) {
    const int kind = int(rng() % 3);  // random, compressible, a sector's marks
    for (uint64_t i = 0; i < len; ++i)
        expect[at + i] = kind == 0 ? uint8_t(rng() | 1) : kind == 1 ? uint8_t(i / 7 % 5 + 'a') : uint8_t((at + i) >> 9 | 1);
}

struct Tables {
    uint64_t gd, rgd, gd_sectors, grain_offset, grain_sectors;
};

Tables tables_of(const std::vector<uint8_t>& img) {
    Tables t{};
    t.grain_sectors = formats::load_le64(img.data() + v::kHdrGranularity);
    t.rgd = formats::load_le64(img.data() + v::kHdrRgdOffset);
    t.gd = formats::load_le64(img.data() + v::kHdrGdOffset);
    t.grain_offset = formats::load_le64(img.data() + v::kHdrGrainOffset);
    return t;
}

// Every grain-table entry, in guest order (0: unallocated).
std::vector<uint32_t> entries(const std::vector<uint8_t>& img, uint64_t dir, uint64_t grains) {
    std::vector<uint32_t> out;
    for (uint64_t g = 0; g < grains; ++g) {
        const uint32_t table = formats::load_le32(img.data() + dir * 512 + g / v::kGtesPerGt * 4);
        out.push_back(formats::load_le32(img.data() + uint64_t(table) * 512 + g % v::kGtesPerGt * 4));
    }
    return out;
}

struct Case {
    const char* name;
    bool stream;
    uint32_t grain;
    uint64_t size;
};

class VmdkWriterTest : public ::testing::TestWithParam<Case> {};

// write(): runs of any length; streamOptimized gathers them into grains.
TEST_P(VmdkWriterTest, ReadsBackWhatWasWritten) {
    const Case& c = GetParam();
    const abi::CreateRequest r = request(c.size, c.stream, c.grain);
    Opened o;
    MemorySink sink;
    ASSERT_EQ(o.open(r, sink), kOk);
    std::vector<uint8_t> expect(c.size, 0);
    std::mt19937 rng(7);
    for (auto [at, len] : write_pattern(c.size, c.grain, 11)) {
        fill(expect, at, len, rng);
        ASSERT_EQ(o.w.write(at, expect.data() + at, len), kOk) << at << "+" << len;
    }
    ASSERT_EQ(o.w.finish(), kOk);
    ASSERT_EQ(sink.bytes.size(), o.w.file_size());
    EXPECT_EQ(sink.bytes.size() % 512, 0u);
    expect_reads_back(abi::Format::vmdk, sink.bytes, expect);

    // qemu's allocation: grains at the end, in guest order (writes come in
    // guest order), the redundant tables the same as the primary ones.
    const Tables t = tables_of(sink.bytes);
    const uint64_t grains = (c.size + c.grain - 1) / c.grain;
    const std::vector<uint32_t> primary = entries(sink.bytes, t.gd, grains);
    EXPECT_EQ(primary, entries(sink.bytes, t.rgd, grains));
    uint64_t last = 0, allocated = 0;
    for (uint32_t e : primary) {
        if (!e) continue;
        EXPECT_GT(e, last);
        if (!c.stream) {
            EXPECT_EQ(e, t.grain_offset + allocated * t.grain_sectors);
        }
        last = e;
        ++allocated;
    }
    if (!c.stream) {
        EXPECT_EQ(sink.bytes.size(), (t.grain_offset + allocated * t.grain_sectors) * 512);
    } else if (allocated) {
        EXPECT_GE(sink.bytes.size(), (uint64_t(last) + t.grain_sectors) * 512);
    }
}

const Case kCases[] = {
    {"sparse", false, 65536, 24u << 20},
    {"sparse_4k", false, 4096, 6u << 20},
    // The last grain is short: the disk is not a whole number of grains.
    {"sparse_odd", false, 65536, (5u << 20) + 1536},
    // Several grain tables (512 grains each).
    {"sparse_tables", false, 4096, 9u << 20},
    {"stream", true, 65536, 24u << 20},
    {"stream_4k", true, 4096, 6u << 20},
    {"stream_odd", true, 65536, (5u << 20) + 1536},
};

INSTANTIATE_TEST_SUITE_P(Layouts, VmdkWriterTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// convert -c (and every conversion into streamOptimized): one grain at a
// time, grains of zeroes left out; the disk's last grain short.
class VmdkCompressedWriterTest : public ::testing::TestWithParam<Case> {};

TEST_P(VmdkCompressedWriterTest, ReadsBackWhatWasWritten) {
    const Case& c = GetParam();
    const abi::CreateRequest r = request(c.size, c.stream, c.grain);
    Opened o;
    MemorySink sink;
    ASSERT_EQ(o.open(r, sink, true), kOk);
    ASSERT_EQ(o.w.cluster_size(), c.grain);
    std::vector<uint8_t> expect(c.size, 0);
    std::mt19937 rng(3);
    for (uint64_t at = 0; at < c.size; at += c.grain) {
        const uint64_t len = std::min<uint64_t>(c.grain, c.size - at);
        if (rng() % 4 == 0) continue;
        fill(expect, at, len, rng);
        ASSERT_EQ(o.w.write_compressed(at, expect.data() + at, len), kOk) << at;
    }
    ASSERT_EQ(o.w.finish(), kOk);
    ASSERT_EQ(sink.bytes.size(), o.w.file_size());
    EXPECT_EQ(sink.bytes.size() % 512, 0u);
    expect_reads_back(abi::Format::vmdk, sink.bytes, expect);
}

INSTANTIATE_TEST_SUITE_P(Layouts, VmdkCompressedWriterTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// Runs a series of writes (or whole-grain compressed writes) and returns
// the file.
std::vector<uint8_t> image_of(const abi::CreateRequest& r, const std::vector<uint8_t>& data,
                              const std::vector<std::pair<uint64_t, uint64_t>>& runs, bool compressed) {
    Opened o;
    MemorySink sink;
    EXPECT_EQ(o.open(r, sink, compressed), kOk);
    for (auto [at, len] : runs) {
        const Status st = compressed ? o.w.write_compressed(at, data.data() + at, len) : o.w.write(at, data.data() + at, len);
        EXPECT_EQ(st, kOk) << at;
    }
    EXPECT_EQ(o.w.finish(), kOk);
    return sink.bytes;
}

// A grain gathered from pieces is stored as the whole grain written at
// once: the pieces of data, zeroes between them.
TEST(VmdkWriter, StreamGathersPiecesIntoTheGrainQemuWrites) {
    const uint64_t size = (2u << 20) + 1024;
    const abi::CreateRequest r = request(size, true);
    std::vector<uint8_t> data(size, 0);
    std::mt19937 rng(5);
    const std::vector<std::pair<uint64_t, uint64_t>> pieces = {
        {512, 512}, {4096, 8192}, {65536 - 512, 1024}, {3 * kGrain, 2 * kGrain + 512}, {size - 512, 512}};
    for (auto [at, len] : pieces) fill(data, at, len, rng);
    std::vector<std::pair<uint64_t, uint64_t>> grains;
    for (uint64_t g : {0, 1, 3, 4, 5, 32}) grains.push_back({g * kGrain, std::min<uint64_t>(kGrain, size - g * kGrain)});
    const std::vector<uint8_t> whole = image_of(r, data, grains, true);
    EXPECT_TRUE(image_of(r, data, pieces, false) == whole);
    expect_reads_back(abi::Format::vmdk, whole, data);
}

// Several sources whose sizes are not whole grains: convert -c hands a
// grain that straddles two of them over in two parts, and the clusters of
// the second source then straddle grains; each grain is stored whole, as
// qemu-img, which reads it from both sources, stores it.
TEST(VmdkWriter, StreamGathersGrainsThatStraddleSources) {
    const uint64_t first = 3 * kGrain + 1536, size = first + 4 * kGrain;
    const abi::CreateRequest r = request(size, true);
    std::vector<uint8_t> data(size, 0);
    std::mt19937 rng(6);
    fill(data, 0, size, rng);
    std::vector<std::pair<uint64_t, uint64_t>> pieces, grains;
    for (uint64_t at = 0; at < first; at += kGrain) pieces.push_back({at, std::min(kGrain, first - at)});
    for (uint64_t at = first; at < size; at += kGrain) pieces.push_back({at, std::min(kGrain, size - at)});
    for (uint64_t at = 0; at < size; at += kGrain) grains.push_back({at, std::min(kGrain, size - at)});
    const std::vector<uint8_t> whole = image_of(r, data, grains, true);
    EXPECT_TRUE(image_of(r, data, pieces, true) == whole);
    expect_reads_back(abi::Format::vmdk, whole, data);
}

// monolithicSparse with -c: qemu's compressed write is its plain one.
TEST(VmdkWriter, SparseCompressedWritesArePlainGrains) {
    const uint64_t size = 3u << 20;
    const abi::CreateRequest r = request(size, false);
    std::vector<uint8_t> data(size, 0);
    std::mt19937 rng(9);
    std::vector<std::pair<uint64_t, uint64_t>> grains;
    for (uint64_t at = 0; at < size; at += 3 * kGrain) {
        fill(data, at, kGrain, rng);
        grains.push_back({at, kGrain});
    }
    EXPECT_TRUE(image_of(r, data, grains, true) == image_of(r, data, grains, false));
}

// A second write into a grain the previous one allocated goes in place;
// the parts never written read as zeroes.
TEST(VmdkWriter, PartialGrainsFillInPlace) {
    const uint64_t size = 1u << 20;
    const abi::CreateRequest r = request(size, false);
    std::vector<uint8_t> data(size, 0);
    std::mt19937 rng(1);
    const std::vector<std::pair<uint64_t, uint64_t>> runs = {{1024, 512}, {8192, 512}, {kGrain - 512, 1024}};
    for (auto [at, len] : runs) fill(data, at, len, rng);
    const std::vector<uint8_t> img = image_of(r, data, runs, false);
    const Tables t = tables_of(img);
    EXPECT_EQ(img.size(), (t.grain_offset + 2 * t.grain_sectors) * 512);
    const std::vector<uint32_t> e = entries(img, t.gd, size / kGrain);
    EXPECT_EQ(e[0], t.grain_offset);
    EXPECT_EQ(e[1], t.grain_offset + t.grain_sectors);
    expect_reads_back(abi::Format::vmdk, img, data);
}

// vmdk_write_cid on the first write: a new CID (entropy bytes 4..7) in
// %x over create's text; a text shorter by k >= 2 characters leaves the
// old text's last k - 1 characters behind its NUL, as qemu's leaves them.
// Nothing written, nothing rewritten.
TEST(VmdkWriter, FirstWriteRewritesTheCidAsQemuDoes) {
    abi::CreateRequest r = request(1u << 20, false);
    vmdk::set_cid(r, 0x12345678);
    for (int i = 0; i < 4; ++i) r.entropy[4 + i] = uint8_t(0xab >> (8 * i));
    std::vector<uint8_t> data(1u << 20, 0x33);
    const std::vector<uint8_t> created = image_of(r, data, {}, false);
    const std::vector<uint8_t> written = image_of(r, data, {{0, 512}}, false);
    const char* old_text = reinterpret_cast<const char*>(created.data()) + vmdk::kDescAt;
    const char* new_text = reinterpret_cast<const char*>(written.data()) + vmdk::kDescAt;
    const size_t old_len = strnlen(old_text, vmdk::kDescBytes), new_len = strnlen(new_text, vmdk::kDescBytes);
    EXPECT_NE(std::string(old_text, old_len).find("\nCID=12345678\n"), std::string::npos);
    EXPECT_NE(std::string(new_text, new_len).find("\nCID=ab\nparentCID=ffffffff\n"), std::string::npos);
    ASSERT_EQ(new_len + 6, old_len);
    EXPECT_EQ(std::string(new_text + new_len + 1, 5), std::string(old_text + new_len + 1, 5));
    EXPECT_EQ(new_text[new_len + 1 + 4], '\n');
    for (size_t i = old_len; i < vmdk::kDescBytes; ++i) ASSERT_EQ(new_text[i], 0) << i;
}

// The options of `create` make the same image with data in it.
TEST(VmdkWriter, CreateOptionsCarryOver) {
    const uint64_t size = 1u << 20;
    std::vector<uint8_t> data(size, 0);
    std::mt19937 rng(2);
    fill(data, 4096, 4096, rng);
    for (bool stream : {false, true}) {
        abi::CreateRequest r = request(size, stream);
        r.flags |= abi::kCreateZeroedGrain;
        r.vmdk_adapter = uint32_t(abi::VmdkAdapter::lsilogic);
        std::snprintf(r.vmdk_toolsversion, sizeof r.vmdk_toolsversion, "%s", "12352");
        const std::vector<uint8_t> img = image_of(r, data, {{4096, 4096}}, false);
        const std::string desc(reinterpret_cast<const char*>(img.data()) + 512, 10240);
        EXPECT_NE(desc.find("ddb.adapterType = \"lsilogic\""), std::string::npos);
        EXPECT_NE(desc.find("ddb.toolsVersion = \"12352\""), std::string::npos);
        EXPECT_TRUE(formats::load_le32(img.data() + v::kHdrFlags) & v::kFlagZeroedGrain);
        expect_reads_back(abi::Format::vmdk, img, data);
    }
}

TEST(VmdkWriter, RefusesWritesOutOfOrderOrOutside) {
    for (bool stream : {false, true}) {
        const abi::CreateRequest r = request(1u << 20, stream);
        Opened o;
        MemorySink sink;
        ASSERT_EQ(o.open(r, sink), kOk);
        std::vector<uint8_t> data(2 * kGrain, 1);
        ASSERT_EQ(o.w.write(kGrain, data.data(), 512), kOk);
        EXPECT_EQ(o.w.write(0, data.data(), 512), Status::internal);
        EXPECT_EQ(o.w.write(kGrain, data.data(), 512), Status::internal);           // overlaps
        EXPECT_EQ(o.w.write((1u << 20) - 512, data.data(), 1024), Status::internal);  // past the end
        EXPECT_EQ(o.w.write(~uint64_t(0) - 511, data.data(), 512), Status::internal);
        EXPECT_EQ(o.w.write(2 * kGrain + 1, data.data(), 512), Status::internal);  // not a sector
        if (stream) {
            EXPECT_EQ(o.w.write_compressed(4 * kGrain, data.data(), 2 * kGrain), Status::internal);
            EXPECT_EQ(o.w.write_compressed(4 * kGrain, data.data(), 0), Status::internal);
            ASSERT_EQ(o.w.write_compressed(4 * kGrain, data.data(), kGrain), kOk);
            EXPECT_EQ(o.w.write_compressed(4 * kGrain, data.data(), kGrain), Status::internal);
        }
    }
}

// A sink that refuses to grow past its capacity, as the guest's output
// device does.
class BoundedSink : public MemorySink {
public:
    uint64_t capacity;
    explicit BoundedSink(uint64_t c) : capacity(c) {}
    bool write(uint64_t offset, const void* data, size_t len) override {
        return offset <= capacity && len <= capacity - offset && MemorySink::write(offset, data, len);
    }
    bool set_size(uint64_t size) override { return size <= capacity && MemorySink::set_size(size); }
};

TEST(VmdkWriter, AFullSinkFailsTheWrite) {
    for (bool stream : {false, true}) {
        const abi::CreateRequest r = request(8u << 20, stream);
        Opened o;
        BoundedSink sink(1u << 20);
        ASSERT_EQ(o.open(r, sink, stream), kOk);
        std::vector<uint8_t> data(kGrain);
        std::mt19937 rng(4);
        for (auto& b : data) b = uint8_t(rng());
        Status st = kOk;
        uint64_t at = 0;
        for (; at < (8u << 20) && st == kOk; at += kGrain)
            st = stream ? o.w.write_compressed(at, data.data(), kGrain) : o.w.write(at, data.data(), kGrain);
        EXPECT_EQ(st, Status::write_failed);
        EXPECT_LT(at, 8u << 20);
    }
}

// The largest image qemu makes with 64 KiB grains: memory stays what a
// small disk needs, and grains are written at the far end of the disk.
TEST(VmdkWriter, TwoTerabytesInBoundedMemory) {
    const uint64_t size = (2ull << 40) - kGrain;
    for (bool stream : {false, true}) {
        const abi::CreateRequest r = request(size, stream);
        Opened o(2u << 20);
        CountingSink sink;
        ASSERT_EQ(o.open(r, sink, stream), kOk);
        std::vector<uint8_t> data(kGrain, 0x5a);
        ASSERT_EQ(o.w.write(0, data.data(), kGrain), kOk);
        ASSERT_EQ(o.w.write(size / 2 + 512, data.data(), 4096), kOk);
        ASSERT_EQ(o.w.write(size - kGrain, data.data(), kGrain), kOk);
        ASSERT_EQ(o.w.finish(), kOk);
        EXPECT_EQ(sink.size, o.w.file_size());
        EXPECT_LT(o.arena.used(), 1u << 20);
    }
}

// Grain-table entries are 32-bit sectors: qemu fails the write that would
// allocate at sector 2^32 (2 TiB of file), and so does the writer, cleanly.
TEST(VmdkWriter, AllocationPastTwoTerabytesOfFileFails) {
    const uint64_t size = 3ull << 40;
    const abi::CreateRequest r = request(size, false);
    Opened o;
    CountingSink sink;
    ASSERT_EQ(o.open(r, sink), kOk);
    std::vector<uint8_t> data(kGrain, 1);
    Status st = kOk;
    uint64_t at = 0;
    for (; st == kOk && at < size; at += kGrain) st = o.w.write(at, data.data(), kGrain);
    EXPECT_EQ(st, Status::size_out_of_range);
    EXPECT_LE(sink.end, v::kMaxGrainSector * 512);
    EXPECT_LT(at, 2ull << 40);
}

}  // namespace
}  // namespace instar::testing
