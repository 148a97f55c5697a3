// qcow2 detection and header reading, on images qemu-img made and on
// damaged copies of them that qemu-img refuses as well.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_probe.h"
#include "memory_image.h"
#include "qcow2_test_util.h"

namespace instar::testing::qcow2 {
namespace {

using formats::Status;

constexpr uint64_t MiB = 1u << 20;
constexpr uint32_t kQcow2Magic = 0x514649fb;  // "QFI\xfb", as the specification spells it

formats::Status read_basic(std::vector<uint8_t> bytes, formats::BasicImageInfo& info) {
    MemorySource src(std::move(bytes));
    std::vector<uint8_t> mem(1 << 20);
    formats::Arena arena(mem.data(), mem.size());
    return formats::qcow2_read_basic(src, arena, info);
}

// A small image made by qemu-img, kept in memory.
std::vector<uint8_t> qemu_image(const std::string& options, const std::string& size) {
    TempDir dir;
    const std::string path = dir.file("p.qcow2");
    CommandResult r = run_command(qemu_img() + " create -q -f qcow2 " + options + " " + shell_quote(path) +
                                  " " + size);
    EXPECT_EQ(r.status, 0) << r.output;
    return read_file(path);
}

// What qemu-img info says about an image, or nothing when it refuses it.
bool qemu_virtual_size(const std::vector<uint8_t>& bytes, uint64_t& size) {
    TempDir dir;
    const std::string path = dir.file("i.qcow2");
    if (!write_file(path, bytes)) return false;
    CommandResult r = run_command(qemu_img() + " info --output=json -f qcow2 " + shell_quote(path));
    if (r.status != 0) return false;
    const std::string key = "\"virtual-size\": ";
    size_t at = r.output.find(key);
    if (at == std::string::npos) return false;
    size = std::stoull(r.output.substr(at + key.size()));
    return true;
}

class Qcow2ProbeOnQemuImages : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(Qcow2ProbeOnQemuImages, DetectsAndReadsVirtualSize) {
    INSTAR_REQUIRE_QEMU_IMG();
    const auto& [options, size] = GetParam();
    std::vector<uint8_t> bytes = qemu_image(options, size);
    ASSERT_FALSE(bytes.empty());
    const size_t head = bytes.size() < formats::kProbeHeadBytes ? bytes.size() : formats::kProbeHeadBytes;
    EXPECT_TRUE(formats::qcow2_detect(bytes.data(), head));

    uint64_t expected = 0;
    ASSERT_TRUE(qemu_virtual_size(bytes, expected));
    formats::BasicImageInfo info{};
    ASSERT_EQ(read_basic(bytes, info), formats::kOk);
    EXPECT_EQ(info.virtual_size, expected);
    EXPECT_FALSE(info.has_cid);
}

INSTANTIATE_TEST_SUITE_P(
    Images, Qcow2ProbeOnQemuImages,
    ::testing::Values(std::make_pair("", "1M"), std::make_pair("", "1000000"), std::make_pair("", "0"),
                      std::make_pair("-o cluster_size=512", "3G"), std::make_pair("-o cluster_size=2M", "2T"),
                      std::make_pair("-o compat=0.10", "16M"), std::make_pair("-o extended_l2=on", "5G"),
                      std::make_pair("-o compression_type=zstd,lazy_refcounts=on", "64M"),
                      std::make_pair("-o refcount_bits=1,cluster_size=4096", "1G"),
                      std::make_pair("-u -b base.img -F raw", "7M"),
                      std::make_pair("-o preallocation=metadata", "3M")));

TEST(Qcow2Probe, DetectsLikeQemu) {
    uint8_t head[512] = {};
    EXPECT_FALSE(formats::qcow2_detect(head, sizeof(head)));
    EXPECT_FALSE(formats::qcow2_detect(nullptr, 0));
    formats::store_be32(head, kQcow2Magic);
    formats::store_be32(head + 4, 3);
    EXPECT_TRUE(formats::qcow2_detect(head, sizeof(head)));
    // qemu pads a short file with zeroes and still probes it as qcow2.
    EXPECT_TRUE(formats::qcow2_detect(head, 8));
    EXPECT_FALSE(formats::qcow2_detect(head, 7));
    formats::store_be32(head + 4, 2);
    EXPECT_TRUE(formats::qcow2_detect(head, sizeof(head)));
    formats::store_be32(head + 4, 1);  // the older qcow format
    EXPECT_FALSE(formats::qcow2_detect(head, sizeof(head)));
    formats::store_be32(head + 4, 3);
    head[3] = 0xfa;
    EXPECT_FALSE(formats::qcow2_detect(head, sizeof(head)));
}

// A damaged header: what the probe must answer, and whether qemu-img
// still opens it (only when the damage is one qemu tolerates).
struct Damage {
    const char* name;
    std::function<void(std::vector<uint8_t>&)> apply;
    Status expected;
};

void set32(std::vector<uint8_t>& b, size_t off, uint32_t v) { formats::store_be32(b.data() + off, v); }
void set64(std::vector<uint8_t>& b, size_t off, uint64_t v) { formats::store_be64(b.data() + off, v); }

std::vector<Damage> damages() {
    return {
        {"truncated_to_71", [](std::vector<uint8_t>& b) { b.resize(71); }, Status::image_invalid},
        {"v3_truncated_to_100", [](std::vector<uint8_t>& b) { b.resize(100); }, Status::image_invalid},
        {"empty", [](std::vector<uint8_t>& b) { b.clear(); }, Status::image_invalid},
        {"bad_magic", [](std::vector<uint8_t>& b) { b[0] = 'q'; }, Status::image_invalid},
        {"version_1", [](std::vector<uint8_t>& b) { set32(b, 4, 1); }, Status::image_invalid},
        {"version_4", [](std::vector<uint8_t>& b) { set32(b, 4, 4); }, Status::unsupported_feature},
        {"cluster_bits_8", [](std::vector<uint8_t>& b) { set32(b, 20, 8); }, Status::image_invalid},
        {"cluster_bits_22", [](std::vector<uint8_t>& b) { set32(b, 20, 22); }, Status::image_invalid},
        {"header_length_100", [](std::vector<uint8_t>& b) { set32(b, 100, 100); }, Status::image_invalid},
        {"header_length_over_cluster", [](std::vector<uint8_t>& b) { set32(b, 100, 65536 + 8); },
         Status::image_invalid},
        {"unknown_incompatible_bit", [](std::vector<uint8_t>& b) { set64(b, 72, 1ull << 5); },
         Status::unsupported_feature},
        {"refcount_order_7", [](std::vector<uint8_t>& b) { set32(b, 96, 7); }, Status::image_invalid},
        {"l1_too_small", [](std::vector<uint8_t>& b) { set64(b, 24, 600 * MiB); }, Status::image_invalid},
        {"l1_over_32M", [](std::vector<uint8_t>& b) { set32(b, 36, (32u << 20) / 8 + 1); }, Status::image_invalid},
        {"l1_offset_unaligned", [](std::vector<uint8_t>& b) { set64(b, 40, 0x30008); }, Status::image_invalid},
        {"l1_offset_overflows", [](std::vector<uint8_t>& b) { set64(b, 40, 0x8000000000000000ull); },
         Status::image_invalid},
        {"l1_past_block_limit", [](std::vector<uint8_t>& b) { set64(b, 40, 0x7fffffffc0000000ull); },
         Status::image_invalid},
        {"reftable_past_block_limit", [](std::vector<uint8_t>& b) { set64(b, 48, 0x7fffffffc0000000ull); },
         Status::image_invalid},
        {"reftable_offset_unaligned", [](std::vector<uint8_t>& b) { set64(b, 48, 0x10100); }, Status::image_invalid},
        {"reftable_no_clusters", [](std::vector<uint8_t>& b) { set32(b, 56, 0); }, Status::image_invalid},
        {"reftable_too_large", [](std::vector<uint8_t>& b) { set32(b, 56, 129); }, Status::image_invalid},
        {"backing_offset_past_cluster", [](std::vector<uint8_t>& b) { set64(b, 8, 65537); }, Status::image_invalid},
        {"backing_name_1024",
         [](std::vector<uint8_t>& b) {
             set64(b, 8, 4096);
             set32(b, 16, 1024);
         },
         Status::image_invalid},
        {"crypt_method_3", [](std::vector<uint8_t>& b) { set32(b, 32, 3); }, Status::image_invalid},
        {"zstd_without_feature_bit", [](std::vector<uint8_t>& b) { b[104] = 1; }, Status::image_invalid},
        {"compression_bit_without_type", [](std::vector<uint8_t>& b) { set64(b, 72, 1ull << 3); },
         Status::image_invalid},
        {"unknown_compression_type",
         [](std::vector<uint8_t>& b) {
             set64(b, 72, 1ull << 3);
             b[104] = 2;
         },
         Status::unsupported_feature},
        {"too_many_snapshots", [](std::vector<uint8_t>& b) { set32(b, 60, 65537); }, Status::image_invalid},
        {"snapshot_table_unaligned",
         [](std::vector<uint8_t>& b) {
             set32(b, 60, 1);
             set64(b, 64, 0x10010);
         },
         Status::image_invalid},
        // Past the header: what qemu's open reads before it uses a backing
        // file (header extensions at 112, then the snapshot table).
        {"extension_length_overflows", [](std::vector<uint8_t>& b) { set32(b, 116, 0xffffffff); },
         Status::image_invalid},
        {"extension_past_cluster", [](std::vector<uint8_t>& b) { set32(b, 116, 0x10000); }, Status::image_invalid},
        {"backing_format_extension_too_long",
         [](std::vector<uint8_t>& b) {
             set32(b, 112, 0xe2792aca);
             set32(b, 116, 64);
         },
         Status::image_invalid},
        {"snapshot_entry_too_much_extra_data",
         [](std::vector<uint8_t>& b) {
             // One snapshot entry at 0x20000 (past the refcount block
             // qemu-img wrote), its extra data size at 36 too large.
             b.resize(0x30000, 0);
             set32(b, 60, 1);
             set64(b, 64, 0x20000);
             set32(b, 0x20000 + 36, 0xffffffff);
         },
         Status::image_invalid},
    };
}

class Qcow2ProbeDamaged : public ::testing::TestWithParam<Damage> {};

TEST_P(Qcow2ProbeDamaged, RefusesWhatQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Damage& d = GetParam();
    std::vector<uint8_t> bytes = qemu_image("", "512M");
    ASSERT_FALSE(bytes.empty());
    d.apply(bytes);
    formats::BasicImageInfo info{};
    EXPECT_EQ(read_basic(bytes, info), d.expected);
    uint64_t size = 0;
    EXPECT_FALSE(qemu_virtual_size(bytes, size)) << "qemu-img opens it: " << size;
}

INSTANTIATE_TEST_SUITE_P(Headers, Qcow2ProbeDamaged, ::testing::ValuesIn(damages()),
                         [](const ::testing::TestParamInfo<Damage>& info) { return std::string(info.param.name); });

TEST(Qcow2Probe, AcceptsWhatQemuTolerates) {
    INSTAR_REQUIRE_QEMU_IMG();
    std::vector<uint8_t> base = qemu_image("", "512M");
    ASSERT_FALSE(base.empty());

    // A size off the sector grid: qemu counts whole sectors.
    std::vector<uint8_t> odd = base;
    set64(odd, 24, 512 * MiB - 100);
    formats::BasicImageInfo info{};
    ASSERT_EQ(read_basic(odd, info), formats::kOk);
    uint64_t size = 0;
    ASSERT_TRUE(qemu_virtual_size(odd, size));
    EXPECT_EQ(info.virtual_size, size);
    EXPECT_EQ(info.virtual_size, 512 * MiB - 512);

    // The dirty bit (lazy refcounts left unclean) does not hide the size.
    std::vector<uint8_t> dirty = base;
    set64(dirty, 72, 1);
    ASSERT_EQ(read_basic(dirty, info), formats::kOk);
    EXPECT_EQ(info.virtual_size, 512 * MiB);

    // Tables past the end of the file read as zeroes.
    std::vector<uint8_t> far = base;
    set64(far, 40, 1ull << 32);
    ASSERT_EQ(read_basic(far, info), formats::kOk);
    ASSERT_TRUE(qemu_virtual_size(far, size));
    EXPECT_EQ(info.virtual_size, size);

    // A header only 104 bytes long (no compression type byte).
    std::vector<uint8_t> short_header = base;
    set32(short_header, 100, 104);
    ASSERT_EQ(read_basic(short_header, info), formats::kOk);
    ASSERT_TRUE(qemu_virtual_size(short_header, size));
    EXPECT_EQ(info.virtual_size, size);
}

TEST(Qcow2Probe, ReadsWhatTheEmitterWrites) {
    for (uint64_t size : {uint64_t(0), uint64_t(1000000), 3 * MiB, uint64_t(5) << 30}) {
        for (uint32_t cluster : {512u, 65536u}) {
            Qcow2Options o;
            o.size = size;
            o.cluster_size = cluster;
            auto req = make_request(o);
            MemorySink sink;
            ASSERT_EQ(emit(*req, size, sink).status, formats::kOk);
            EXPECT_TRUE(formats::qcow2_detect(sink.bytes.data(), sink.bytes.size()));
            formats::BasicImageInfo info{};
            ASSERT_EQ(read_basic(sink.bytes, info), formats::kOk);
            EXPECT_EQ(info.virtual_size, (size + 511) / 512 * 512);
        }
    }
}

TEST(Qcow2Probe, ReadsNoDataTables) {
    // The L1 and refcount tables are not followed: a source that fails
    // every read past the first cluster (header and extensions) must not
    // matter.
    struct HeaderOnly : MemorySource {
        using MemorySource::MemorySource;
        bool read(uint64_t offset, void* buf, size_t len) override {
            if (offset + len > 65536) return false;
            return MemorySource::read(offset, buf, len);
        }
    };
    std::vector<uint8_t> bytes(196616, 0);
    formats::store_be32(bytes.data(), kQcow2Magic);
    formats::store_be32(bytes.data() + 4, 3);
    formats::store_be32(bytes.data() + 20, 16);
    formats::store_be64(bytes.data() + 24, MiB);
    formats::store_be32(bytes.data() + 36, 1);
    formats::store_be64(bytes.data() + 40, 0x30000);
    formats::store_be64(bytes.data() + 48, 0x10000);
    formats::store_be32(bytes.data() + 56, 1);
    formats::store_be32(bytes.data() + 96, 4);
    formats::store_be32(bytes.data() + 100, 112);
    HeaderOnly src(bytes);
    std::vector<uint8_t> mem(1 << 20);
    formats::Arena arena(mem.data(), mem.size());
    formats::BasicImageInfo info{};
    ASSERT_EQ(formats::qcow2_read_basic(src, arena, info), formats::kOk);
    EXPECT_EQ(info.virtual_size, MiB);
}

TEST(Qcow2Probe, ReportsReadErrors) {
    struct Broken : formats::ImageSource {
        uint64_t size() const override { return 1 << 20; }
        bool read(uint64_t, void*, size_t) override { return false; }
    } src;
    std::vector<uint8_t> mem(4096);
    formats::Arena arena(mem.data(), mem.size());
    formats::BasicImageInfo info{};
    EXPECT_EQ(formats::qcow2_read_basic(src, arena, info), Status::read_failed);
}

}  // namespace
}  // namespace instar::testing::qcow2
