// The vhdx writer (what convert -O vhdx writes with) on its own: runs of
// data in guest order through every layout (dynamic and fixed, ZERO or
// NOT_PRESENT blocks, several block and log sizes, disks that end
// mid-block), then the image read back through instar's own vhdx reader
// must hold exactly the data written. The structures qemu's driver leaves
// are checked too: blocks allocated in order at the end of the file, each
// BAT change logged as one checksummed entry, the header sequence moved on
// as qemu moves it. Byte identity with qemu-img is the integration suite's
// (tests/integration/test_convert_vhdx.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "abi/ops/create.h"
#include "formats/common/endian.h"
#include "formats/vhdx/crc32c.h"
#include "formats/vhdx/vhdx_bat.h"
#include "formats/vhdx/vhdx_create.h"
#include "formats/vhdx/vhdx_identity.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vhdx/vhdx_plan.h"
#include "formats/vhdx/vhdx_reader.h"
#include "formats/vhdx/vhdx_write_log.h"
#include "formats/vhdx/vhdx_writer.h"
#include "memory_image.h"
#include "writer_round_trip.h"

namespace instar::testing {
namespace {

namespace vx = formats::vhdx;
using formats::kOk;
using formats::Status;

constexpr uint64_t MiB = 1 << 20, GiB = 1024 * MiB, TiB = 1024 * GiB;

struct Case {
    const char* name;
    bool fixed;
    bool zero_blocks;
    uint32_t block_size;  // 0: qemu's choice
    uint64_t log_size;
    uint64_t size;
};

abi::CreateRequest request_for(const Case& c) {
    abi::CreateRequest req{};
    req.format = uint32_t(abi::Format::vhdx);
    req.flags = abi::kCreateHasSize | (c.zero_blocks ? abi::kCreateBlockStateZero : 0);
    req.size = c.size;
    req.vhdx_subformat = uint32_t(c.fixed ? abi::VhdxSubformat::fixed : abi::VhdxSubformat::dynamic);
    req.vhdx_block_size = c.block_size;
    req.vhdx_log_size = c.log_size;
    for (uint32_t i = 0; i < abi::kEntropyBytes; ++i) req.entropy[i] = uint8_t(i * 37 + 11);
    return req;
}

// Runs of data in guest order: gaps of sectors or blocks, lengths of a
// sector to several blocks, a run may start in the block the previous
// one ended in.
std::vector<std::pair<uint64_t, uint64_t>> write_pattern(uint64_t size, uint64_t block, uint32_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::pair<uint64_t, uint64_t>> runs;
    uint64_t at = 0;
    while (true) {
        const uint64_t unit = rng() % 3 ? 512 : block;
        at += (rng() % 5) * unit;
        if (at >= size) break;
        uint64_t len = (1 + rng() % 9) * (rng() % 3 ? 512 * (1 + rng() % 300) : block / 2);
        if (len > size - at) len = size - at;
        runs.push_back({at, len});
        at += len;
    }
    return runs;
}

uint64_t le64(const std::vector<uint8_t>& b, uint64_t at) { return formats::load_le64(b.data() + at); }
uint32_t le32(const std::vector<uint8_t>& b, uint64_t at) { return formats::load_le32(b.data() + at); }

// What qemu's driver leaves besides the data: the headers' sequence moved
// on by 2 for the first write and 4 per allocation, the log entries of
// the last allocations (checksums good, sequence numbers consecutive, each
// carrying the BAT sector as it is now or was then), blocks placed in
// allocation order from the end of the created file.
void expect_qemu_structures(const std::vector<uint8_t>& img, const vx::Plan& plan, uint64_t allocations,
                            bool written, const abi::CreateRequest& req) {
    const uint64_t first = vx::first_sequence_number(req.entropy);
    const uint64_t updates = written ? 2 + 4 * allocations : 0;
    EXPECT_EQ(le64(img, vx::kHeader1Offset + vx::kHdSequence), first + updates);
    EXPECT_EQ(le64(img, vx::kHeader2Offset + vx::kHdSequence), first + 1 + updates);
    for (uint64_t h : {vx::kHeader1Offset, vx::kHeader2Offset}) {
        std::vector<uint8_t> header(img.begin() + long(h), img.begin() + long(h + vx::kHeaderChecksummed));
        std::memset(header.data() + vx::kHdChecksum, 0, 4);
        EXPECT_EQ(vx::crc32c(header.data(), header.size()), le32(img, h + vx::kHdChecksum));
        EXPECT_TRUE(std::all_of(img.begin() + long(h + vx::kHdLogGuid), img.begin() + long(h + vx::kHdLogGuid + 16),
                                [](uint8_t b) { return b == 0; }));
    }
    // Entries sit at 8 KiB steps from the log's start; the last
    // log_size / 8 KiB allocations keep theirs.
    const uint64_t slots = plan.log_size / vx::kBatLogEntryBytes;
    for (uint64_t slot = 0; slot < slots; ++slot) {
        const uint64_t at = plan.log_offset + slot * vx::kBatLogEntryBytes;
        if (slot >= allocations) {
            EXPECT_NE(std::memcmp(img.data() + at, "loge", 4), 0);
            continue;
        }
        // The newest entry in this slot.
        const uint64_t sequence = slot + 1 + (allocations - 1 - slot) / slots * slots;
        ASSERT_EQ(std::memcmp(img.data() + at, "loge", 4), 0) << slot;
        EXPECT_EQ(le64(img, at + vx::kLeSequence), sequence);
        EXPECT_EQ(le32(img, at + vx::kLeTail), slot * vx::kBatLogEntryBytes);
        EXPECT_EQ(le32(img, at + vx::kLeEntryLength), vx::kBatLogEntryBytes);
        EXPECT_EQ(le32(img, at + vx::kLeDescriptorCount), 1u);
        std::vector<uint8_t> entry(img.begin() + long(at), img.begin() + long(at + vx::kBatLogEntryBytes));
        std::memset(entry.data() + vx::kLeChecksum, 0, 4);
        EXPECT_EQ(vx::crc32c(entry.data(), entry.size()), le32(img, at + vx::kLeChecksum));
        const uint64_t d = at + vx::kLogEntryHeaderSize;
        EXPECT_EQ(std::memcmp(img.data() + d, "desc", 4), 0);
        EXPECT_EQ(le64(img, d + vx::kLdSequence), sequence);
        const uint64_t target = le64(img, d + vx::kLdFileOffset);
        EXPECT_EQ(target % vx::kLogSectorSize, 0u);
        EXPECT_GE(target, plan.bat_offset);
        EXPECT_LT(target, plan.bat_offset + plan.bat_length);
        const uint64_t s = at + vx::kLogSectorSize;
        EXPECT_EQ(std::memcmp(img.data() + s, "data", 4), 0);
        EXPECT_EQ(le32(img, s + vx::kLdsSequenceLow), uint32_t(sequence));
        if (sequence == allocations) {
            // The newest entry carries the sector as the BAT now holds it.
            EXPECT_EQ(le64(img, d + vx::kLdLeadingBytes), le64(img, target));
            EXPECT_EQ(std::memcmp(img.data() + s + vx::kLdsData, img.data() + target + vx::kLogLeadingBytes, 4084), 0);
        }
    }
    // Payload blocks in allocation order: BAT entries of allocated blocks
    // are consecutive blocks from the end of the created file on.
    uint64_t next = (plan.file_size + MiB - 1) / MiB * MiB;
    for (uint64_t b = 0; b < plan.bat.data_blocks; ++b) {
        const uint64_t e = le64(img, plan.bat_offset + vx::bat_index_of_block(plan.bat, b) * vx::kBatEntrySize);
        const uint64_t initial = vx::initial_bat_entry(plan, vx::bat_index_of_block(plan.bat, b));
        if (e == initial) continue;
        EXPECT_EQ(e, next | vx::kBatFullyPresent) << "block " << b;
        next += plan.block_size;
    }
    EXPECT_EQ(img.size(), plan.fixed && !plan.zero_blocks ? plan.file_size : (allocations ? next : plan.file_size));
}

class VhdxWriterTest : public ::testing::TestWithParam<Case> {};

TEST_P(VhdxWriterTest, ReadsBackWhatWasWritten) {
    const Case& c = GetParam();
    const abi::CreateRequest req = request_for(c);
    vx::Plan plan{};
    ASSERT_EQ(vx::make_plan(req, c.size, plan), kOk);
    Scratch scratch(1 << 20);
    MemorySink sink;
    vx::Writer w;
    ASSERT_EQ(w.open(req, c.size, scratch.arena, sink), kOk);
    ASSERT_EQ(w.virtual_size(), plan.disk_size);
    ASSERT_EQ(w.cluster_size(), plan.block_size);

    std::vector<uint8_t> expect(plan.disk_size, 0);
    std::mt19937 rng(7);
    for (const auto& [at, len] : write_pattern(plan.disk_size, plan.block_size, 11)) {
        for (uint64_t i = 0; i < len; i += 512) std::memset(expect.data() + at + i, int(rng() | 1), 512);
        ASSERT_EQ(w.write(at, expect.data() + at, len), kOk) << at << "+" << len;
    }
    ASSERT_EQ(w.finish(), kOk);
    ASSERT_EQ(sink.bytes.size(), w.file_size());
    expect_reads_back(abi::Format::vhdx, sink.bytes, expect);
    expect_qemu_structures(sink.bytes, plan, w.allocations(), true, req);
    if (plan.fixed && !plan.zero_blocks) {
        EXPECT_EQ(w.allocations(), 0u);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, VhdxWriterTest,
    ::testing::Values(Case{"dynamic_zero", false, true, 0, MiB, 40 * MiB + 7 * 512},
                      Case{"dynamic_not_present", false, false, 0, MiB, 40 * MiB},
                      Case{"block_1M", false, true, uint32_t(MiB), MiB, 30 * MiB + 512},
                      Case{"block_1M_log_wraps", false, false, uint32_t(MiB), MiB, 200 * MiB},
                      Case{"block_2M_log_3M", false, true, uint32_t(2 * MiB), 3 * MiB, 27 * MiB},
                      Case{"block_32M", false, true, uint32_t(32 * MiB), MiB, 70 * MiB},
                      Case{"fixed_zero", true, true, 0, MiB, 20 * MiB + 512},
                      Case{"fixed_present", true, false, uint32_t(MiB), MiB, 20 * MiB + 512},
                      Case{"fixed_present_8M", true, false, 0, 2 * MiB, 33 * MiB}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(VhdxWriter, NothingWrittenLeavesTheCreatedImage) {
    const Case c{"empty", false, true, uint32_t(MiB), MiB, 8 * MiB};
    const abi::CreateRequest req = request_for(c);
    Scratch a(1 << 20), b(1 << 20);
    MemorySink written, created;
    vx::Writer w;
    ASSERT_EQ(w.open(req, c.size, a.arena, written), kOk);
    ASSERT_EQ(w.finish(), kOk);
    formats::EmitOutput out{};
    ASSERT_EQ(formats::vhdx_emit({&req, c.size, false, 0}, created, b.arena, out), kOk);
    EXPECT_TRUE(written.bytes == created.bytes);
}

TEST(VhdxWriter, EntryAtASectorStartKeepsTheSector) {
    // 1 MiB blocks, ZERO states: block 512 is BAT entry 512, the second
    // sector's first. The sector is logged and replayed as it is, the new
    // entry in place (not moved up by one, as qemu's source reads).
    const Case c{"sector_start", false, true, uint32_t(MiB), MiB, 600 * MiB};
    const abi::CreateRequest req = request_for(c);
    vx::Plan plan{};
    ASSERT_EQ(vx::make_plan(req, c.size, plan), kOk);
    Scratch scratch(1 << 20);
    MemorySink sink;
    vx::Writer w;
    ASSERT_EQ(w.open(req, c.size, scratch.arena, sink), kOk);
    std::vector<uint8_t> data(512, 0x5a);
    ASSERT_EQ(w.write(512 * MiB, data.data(), data.size()), kOk);
    ASSERT_EQ(w.write(514 * MiB, data.data(), data.size()), kOk);
    ASSERT_EQ(w.finish(), kOk);
    const uint64_t bat = plan.bat_offset + 512 * vx::kBatEntrySize;
    EXPECT_EQ(le64(sink.bytes, bat), plan.file_size | vx::kBatFullyPresent);
    EXPECT_EQ(le64(sink.bytes, bat + 8), vx::kBatZero);
    EXPECT_EQ(le64(sink.bytes, bat + 16), (plan.file_size + MiB) | vx::kBatFullyPresent);
    EXPECT_EQ(le64(sink.bytes, bat + (599 - 512) * 8), vx::kBatZero);
    EXPECT_EQ(le64(sink.bytes, bat + (600 - 512) * 8), vx::kBatNotPresent);
    // The first entry's sector: the new entry, then the ZERO states.
    const uint64_t d = plan.log_offset + vx::kLogEntryHeaderSize;
    EXPECT_EQ(le64(sink.bytes, d + vx::kLdLeadingBytes), plan.file_size | vx::kBatFullyPresent);
    EXPECT_EQ(le64(sink.bytes, plan.log_offset + vx::kLogSectorSize + vx::kLdsData), vx::kBatZero);
    EXPECT_EQ(le64(sink.bytes, d + vx::kLdFileOffset), plan.bat_offset + vx::kLogSectorSize);
}

// A sink that holds `capacity` bytes and refuses any write beyond.
class BoundedSink : public MemorySink {
public:
    explicit BoundedSink(uint64_t capacity) : capacity_(capacity) {}
    bool write(uint64_t offset, const void* data, size_t len) override {
        if (offset > capacity_ || len > capacity_ - offset) return false;
        return MemorySink::write(offset, data, len);
    }
    bool set_size(uint64_t size) override { return size <= capacity_ && MemorySink::set_size(size); }

private:
    uint64_t capacity_;
};

TEST(VhdxWriter, WritesPastTheSinkFailCleanly) {
    const Case c{"bounded", false, false, uint32_t(MiB), MiB, 64 * MiB};
    const abi::CreateRequest req = request_for(c);
    vx::Plan plan{};
    ASSERT_EQ(vx::make_plan(req, c.size, plan), kOk);
    Scratch scratch(1 << 20);
    BoundedSink sink(plan.file_size + 2 * MiB);
    vx::Writer w;
    ASSERT_EQ(w.open(req, c.size, scratch.arena, sink), kOk);
    std::vector<uint8_t> data(MiB, 1);
    ASSERT_EQ(w.write(0, data.data(), data.size()), kOk);
    ASSERT_EQ(w.write(MiB, data.data(), data.size()), kOk);
    EXPECT_EQ(w.write(2 * MiB, data.data(), data.size()), Status::write_failed);
}

TEST(VhdxWriter, RefusesWritesOutOfOrderOrOutside) {
    const Case c{"order", false, true, uint32_t(MiB), MiB, 8 * MiB};
    const abi::CreateRequest req = request_for(c);
    Scratch scratch(1 << 20);
    MemorySink sink;
    vx::Writer w;
    ASSERT_EQ(w.open(req, c.size, scratch.arena, sink), kOk);
    std::vector<uint8_t> data(4096, 1);
    ASSERT_EQ(w.write(MiB, data.data(), 4096), kOk);
    EXPECT_EQ(w.write(0, data.data(), 512), Status::internal);
    EXPECT_EQ(w.write(MiB + 100, data.data(), 512), Status::internal);
    EXPECT_EQ(w.write(8 * MiB - 512, data.data(), 1024), Status::internal);
    EXPECT_EQ(w.write(MiB + 4096, data.data(), 512), kOk);
}

TEST(VhdxWriter, LargestImagesStayBounded) {
    // 64 TiB in 1 MiB blocks: a 512 MiB BAT, which the writer never holds.
    // Writes at the disk's end and across the last chunk boundary.
    for (bool fixed : {false, true}) {
        const Case c{"largest", fixed, false, uint32_t(MiB), MiB, 64 * TiB};
        const abi::CreateRequest req = request_for(c);
        vx::Plan plan{};
        ASSERT_EQ(vx::make_plan(req, c.size, plan), kOk);
        EXPECT_EQ(plan.bat_length, 512 * MiB + MiB);
        Scratch scratch(256 << 10);
        CountingSink sink;
        vx::Writer w;
        ASSERT_EQ(w.open(req, c.size, scratch.arena, sink), kOk);
        std::vector<uint8_t> data(2 * MiB, 3);
        ASSERT_EQ(w.write(4 * GiB - MiB, data.data(), data.size()), kOk);
        ASSERT_EQ(w.write(c.size - MiB, data.data(), MiB), kOk);
        ASSERT_EQ(w.finish(), kOk);
        EXPECT_EQ(w.allocations(), fixed ? 0u : 3u);
        EXPECT_EQ(w.file_size(), fixed ? plan.file_size : plan.file_size + 3 * MiB);
        EXPECT_LE(sink.end, w.file_size());
    }
}

TEST(VhdxWriter, RefusesCompression) {
    const Case c{"c", false, true, 0, MiB, 8 * MiB};
    const abi::CreateRequest req = request_for(c);
    Scratch scratch(1 << 20);
    MemorySink sink;
    formats::ImageWriter* out = nullptr;
    EXPECT_EQ(vx::open_writer({req, c.size, sink, scratch.arena, true}, out), Status::unsupported_feature);
    EXPECT_EQ(vx::open_writer({req, c.size, sink, scratch.arena, false}, out), kOk);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->cluster_size(), 8 * MiB);
}

}  // namespace
}  // namespace instar::testing
