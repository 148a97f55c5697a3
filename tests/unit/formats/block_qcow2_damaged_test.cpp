// The qcow2 block reader on damaged copies of qemu-made images: where
// `qemu-img convert -O raw` succeeds we read the same bytes, where it fails
// we fail with the status given here, and no read ever reaches past the end
// of a file. Then random damage: whatever the bytes, the reader answers
// every question without reading outside the file, and the same way twice.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "block_reader_support.h"
#include "qcow2_info_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::get32;
using testing::qcow2::get64;
using testing::qcow2::make_image;
using testing::qcow2::set32;
using testing::qcow2::set64;
using testing::qcow2::TempDir;

constexpr uint64_t kCopied = 1ull << 63;
constexpr uint64_t kCompressed = 1ull << 62;
constexpr size_t kL1Offset = 40, kL1Size = 36, kAutoclear = 88;

uint64_t l1_table(const std::vector<uint8_t>& b) { return get64(b, kL1Offset); }
uint64_t l2_table(const std::vector<uint8_t>& b) { return get64(b, l1_table(b)) & 0x00fffffffffffe00ull; }
// L2 entry `i` of the first L2 table (`width` bytes an entry).
size_t l2_entry(const std::vector<uint8_t>& b, size_t i, size_t width = 8) { return l2_table(b) + i * width; }

// 4 MiB, 64 KiB clusters: data in clusters 0-1, a zero cluster at 192k,
// data at 1M; one L2 table. Version 2: the same without the zero cluster.
const char* kStandard = "$QI create -q -f qcow2 img.qcow2 4M && "
                        "$QIO -c 'write -P 0x11 0 128k' -c 'write -z 192k 64k' -c 'write -P 0x22 1M 64k' "
                        "img.qcow2 >/dev/null";
const char* kVersion2 = "$QI create -q -f qcow2 -o compat=0.10 img.qcow2 4M && "
                        "$QIO -c 'write -P 0x11 0 128k' -c 'write -P 0x22 1M 64k' img.qcow2 >/dev/null";
// Extended L2 entries (16 bytes): subclusters 0-1 of cluster 0 hold data.
const char* kExtended = "$QI create -q -f qcow2 -o extended_l2=on img.qcow2 4M && "
                        "$QIO -c 'write -P 0x11 0 4k' -c 'write -P 0x22 1M 64k' img.qcow2 >/dev/null";

struct Damage {
    const char* name;
    const char* base;
    std::function<void(std::vector<uint8_t>&)> apply;
    // kOk: qemu-img convert succeeds and we read what it reads; otherwise
    // qemu-img fails and we fail with this (at open or at the first read
    // or block status of the damaged range).
    Status expected;
    // The damage is in data, which block status does not read: only reading
    // fails.
    bool in_data = false;
};

std::vector<Damage> damages() {
    return {
        // Offsets past the end of the file: qemu reads zeroes there.
        {"l1_entry_past_eof", kStandard, [](auto& b) { set64(b, l1_table(b), kCopied | (1ull << 40)); },
         formats::kOk},
        {"l1_table_past_eof", kStandard, [](auto& b) { set64(b, kL1Offset, 1ull << 32); }, formats::kOk},
        {"l2_entry_past_eof", kStandard, [](auto& b) { set64(b, l2_entry(b, 0), kCopied | (1ull << 40)); },
         formats::kOk},
        {"file_ends_inside_l2_table", kStandard, [](auto& b) { b.resize(l2_table(b) + 4096 + 100); },
         formats::kOk},
        // The copied flag means nothing to a reader.
        {"copied_flags_cleared", kStandard,
         [](auto& b) {
             set64(b, l1_table(b), get64(b, l1_table(b)) & ~kCopied);
             set64(b, l2_entry(b, 0), get64(b, l2_entry(b, 0)) & ~kCopied);
         },
         formats::kOk},
        // Unaligned offsets: "L2 table offset ... unaligned", "Cluster
        // allocation offset ... unaligned" (EIO).
        {"l1_entry_unaligned", kStandard, [](auto& b) { set64(b, l1_table(b), get64(b, l1_table(b)) + 512); },
         Status::image_invalid},
        {"l2_entry_unaligned", kStandard, [](auto& b) { set64(b, l2_entry(b, 1), get64(b, l2_entry(b, 1)) + 512); },
         Status::image_invalid},
        {"zero_cluster_unaligned", kStandard, [](auto& b) { set64(b, l2_entry(b, 3), 0x50201); },
         Status::image_invalid},
        {"unallocated_subcluster_unaligned", kExtended, [](auto& b) { set64(b, l2_entry(b, 5, 16), 0x50200); },
         Status::image_invalid},
        // "Zero cluster entry found in pre-v3 image".
        {"v2_zero_flag", kVersion2, [](auto& b) { set64(b, l2_entry(b, 2), 1); }, Status::image_invalid},
        {"v2_zero_flag_on_data", kVersion2, [](auto& b) { set64(b, l2_entry(b, 0), get64(b, l2_entry(b, 0)) | 1); },
         Status::image_invalid},
        // "Invalid cluster entry found": a subcluster both data and zero,
        // an allocated subcluster without a cluster.
        {"subcluster_data_and_zero", kExtended,
         [](auto& b) { set64(b, l2_entry(b, 0, 16) + 8, get64(b, l2_entry(b, 0, 16) + 8) | (1ull << 33)); },
         Status::image_invalid},
        {"subcluster_allocated_without_cluster", kExtended, [](auto& b) { set64(b, l2_entry(b, 2, 16) + 8, 1); },
         Status::image_invalid},
        // A compressed cluster whose bytes are nowhere (far past the end:
        // zeroes, which are no deflate stream): qemu fails to decompress
        // them. (block_qcow2_compressed_test.cpp has the rest.)
        {"compressed_absurd", kStandard,
         [](auto& b) { set64(b, l2_entry(b, 2), kCompressed | (0xffull << 54) | (1ull << 50)); },
         Status::image_invalid, true},
        // Refused at open, as qemu refuses to open them.
        {"l1_table_too_small", kStandard, [](auto& b) { set32(b, kL1Size, 0); }, Status::image_invalid},
        {"data_file_raw_without_data_file", kStandard, [](auto& b) { set64(b, kAutoclear, 2); },
         Status::image_invalid},
        {"snapshot_table_unaligned", kStandard,
         [](auto& b) {
             set32(b, 60, 1);
             set64(b, 64, 0x10200);
         },
         Status::image_invalid},
    };
}

// The first failure of a walk over the whole disk by block status.
Status walk(BlockReader& r) {
    for (uint64_t pos = 0; pos < r.virtual_size();) {
        BlockStatus s;
        const Status st = r.block_status(pos, r.virtual_size() - pos, s);
        if (st != formats::kOk) return st;
        pos += s.bytes;
    }
    return formats::kOk;
}

class BlockQcow2Damaged : public ::testing::TestWithParam<Damage> {};

TEST_P(BlockQcow2Damaged, FailsWhereQemuFails) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, d.base));
    const std::string img = dir.file("img.qcow2");
    std::vector<uint8_t> b = read_file(img);
    d.apply(b);
    ASSERT_TRUE(write_file(img, b));

    std::vector<uint8_t> expected, got;
    std::string err;
    const bool qemu_ok = qemu_convert_raw(img, dir.file("out.raw"), expected, &err);
    ASSERT_EQ(qemu_ok, d.expected == formats::kOk) << err;

    Chain c = open_chain({{img}});
    Status st = c.status;
    if (st == formats::kOk) {
        const Status walked = walk(c.top());
        st = read_all(c.top(), got);
        // Block status fails where reading fails, except on data.
        EXPECT_EQ(walked, d.in_data ? formats::kOk : st);
    }
    ASSERT_EQ(st, d.expected) << err;
    if (st == formats::kOk) {
        EXPECT_TRUE(got == expected) << "content differs from qemu-img convert";
    }
}

INSTANTIATE_TEST_SUITE_P(BlockDamages, BlockQcow2Damaged, ::testing::ValuesIn(damages()),
                         [](const ::testing::TestParamInfo<Damage>& info) { return info.param.name; });

// An image in memory that fails (rather than pads) any read past its end.
class StrictSource : public formats::ImageSource {
public:
    explicit StrictSource(std::vector<uint8_t> b) : bytes_(std::move(b)) {}
    uint64_t size() const override { return bytes_.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (offset > bytes_.size() || len > bytes_.size() - offset) {
            ++outside;
            return false;
        }
        std::memcpy(buf, bytes_.data() + offset, len);
        return true;
    }
    int outside = 0;

private:
    std::vector<uint8_t> bytes_;
};

// Everything one open reader answers: each run of a walk by block status
// and a read of its start (or their failures), then reads of odd sizes.
std::vector<uint64_t> answers(BlockReader& r) {
    std::vector<uint64_t> out;
    std::vector<uint8_t> buf;
    for (uint64_t pos = 0; pos < r.virtual_size();) {
        BlockStatus s;
        const Status st = r.block_status(pos, r.virtual_size() - pos, s);
        out.push_back(uint64_t(st));
        if (st != formats::kOk) {
            pos += 512;  // past the damaged sector, as a salvaging caller would
            continue;
        }
        EXPECT_GT(s.bytes, 0u);
        out.insert(out.end(), {pos, s.bytes, uint64_t(s.kind), s.has_host_offset, s.host_offset, s.compressed,
                               s.compressed_offset, s.compressed_bytes});
        const size_t n = size_t(std::min<uint64_t>(s.bytes, 64 << 10));
        buf.assign(n, 0);
        out.push_back(uint64_t(r.read(pos, buf.data(), n)));
        uint64_t sum = 0;
        for (uint8_t v : buf) sum = sum * 31 + v;
        out.push_back(sum);
        pos += s.bytes;
    }
    // (Damage to the header may have made the disk much larger.)
    for (uint64_t pos = 0; pos < std::min<uint64_t>(r.virtual_size(), 8u << 20); pos += 777777) {
        buf.assign(size_t(std::min<uint64_t>(100003, r.virtual_size() - pos)), 0);
        out.push_back(uint64_t(r.read(pos, buf.data(), buf.size())));
    }
    return out;
}

TEST(BlockQcow2Damaged, RandomDamageIsBoundedAndDeterministic) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    std::vector<std::vector<uint8_t>> bases;
    for (const char* base : {kStandard, kExtended}) {
        ASSERT_TRUE(make_image(dir, base));
        bases.push_back(read_file(dir.file("img.qcow2")));
    }
    std::mt19937_64 rng(12);
    std::vector<uint8_t> scratch(kLayerScratch);
    int opened = 0;
    for (int i = 0; i < 300; ++i) {
        std::vector<uint8_t> b = bases[size_t(i) % bases.size()];
        // Most damage in the tables (L1 at 192k, L2 at 256k), some anywhere.
        const int flips = 1 + int(rng() % 6);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % 4 == 0 ? rng() % b.size() : 0x30000 + rng() % 0x20000;
            b[at] ^= uint8_t(1u << (rng() % 8));
            if (rng() % 3 == 0) b[at] = uint8_t(rng());
        }
        std::vector<uint64_t> first;
        for (int round = 0; round < 2; ++round) {
            StrictSource src(b);
            formats::Arena arena(scratch.data(), scratch.size());
            BlockReader* r = nullptr;
            formats::ReaderOpenParams p{src, arena, nullptr, nullptr};
            const Status st = formats::format_driver(abi::Format::qcow2)->open_reader(p, r);
            std::vector<uint64_t> a{uint64_t(st)};
            if (st == formats::kOk) {
                ++opened;
                std::vector<uint64_t> more = answers(*r);
                a.insert(a.end(), more.begin(), more.end());
            }
            ASSERT_EQ(src.outside, 0) << "read outside the file, case " << i;
            for (uint64_t v : a) ASSERT_NE(v, uint64_t(Status::internal));
            if (round == 0) first = a;
            else ASSERT_TRUE(a == first) << "different answers, case " << i;
        }
    }
    EXPECT_GT(opened, 100);  // the damage mostly hit tables, not the header
}

}  // namespace
}  // namespace instar::testing::block
