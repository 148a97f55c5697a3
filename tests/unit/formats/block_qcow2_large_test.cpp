// Block status on a 1 TiB qcow2 image is a walk over its L1 table, not its
// clusters: milliseconds, a handful of reads, and memory that does not grow
// with the disk.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "block_reader_support.h"
#include "formats/common/endian.h"
#include "qcow2_info_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::make_image;
using testing::qcow2::TempDir;

struct Walk {
    uint64_t calls = 0;
    double ms = 0;
    Status status = formats::kOk;
};

Walk walk(BlockReader& r) {
    Walk w;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t pos = 0; pos < r.virtual_size(); ++w.calls) {
        BlockStatus s;
        w.status = r.block_status(pos, r.virtual_size() - pos, s);
        if (w.status != formats::kOk) break;
        pos += s.bytes;
    }
    w.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return w;
}

TEST(BlockQcow2Large, EmptyTebibyteWalksInMilliseconds) {
    INSTAR_REQUIRE_QEMU_IMG();
    struct Case {
        const char* opts;
        size_t cluster;
    };
    for (const auto& [opts, cluster] : {Case{"cluster_size=64k", 64 << 10}, Case{"cluster_size=4k", 4 << 10},
                                        Case{"cluster_size=2M,extended_l2=on", 2 << 20}}) {
        SCOPED_TRACE(opts);
        TempDir dir;
        ASSERT_TRUE(make_image(dir, std::string("$QI create -q -f qcow2 -o ") + opts + " img.qcow2 1T"));
        Chain c = open_chain({{dir.file("img.qcow2")}});
        ASSERT_EQ(c.status, formats::kOk);
        ASSERT_EQ(c.top().virtual_size(), 1ull << 40);
        const Walk w = walk(c.top());
        ASSERT_EQ(w.status, formats::kOk);
        EXPECT_EQ(w.calls, 1u);  // one unallocated run
        EXPECT_LT(w.ms, 100.0);
        // The reader's L1 window and L2 slots, and for compressed clusters
        // the decoder and two clusters; the open checks' scratch was given
        // back.
        EXPECT_LT(c.layers[0]->arena->used(), (1u << 20) + 2 * cluster);
        // The open checks' few reads, then the L1 table in 64 KiB windows.
        const uint64_t l1_bytes = uint64_t(formats::load_be32(read_range(dir.file("img.qcow2"), 36, 4).data())) * 8;
        EXPECT_LE(c.layers[0]->file->reads, 16 + (l1_bytes + 65535) / 65536);
        RecordProperty(std::string("walk_ms_") + opts, std::to_string(w.ms));
        std::printf("[ info ] 1 TiB %s: walk %.3f ms, %zu reads, arena %zu bytes\n", opts, w.ms,
                    c.layers[0]->file->reads, c.layers[0]->arena->used());
    }
}

// Data here and there on 1 TiB (an L2 table each): the walk costs an L1
// entry per 512 MiB and an L2 table where there is one, and agrees with
// qemu-img map.
TEST(BlockQcow2Large, SparseTebibyteMatchesMap) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 img.qcow2 1T && "
                                "$QIO -c 'write -P 1 0 64k' -c 'write -z 300G 1M' -c 'write -P 2 700G 192k' "
                                "-c 'write -P 3 1099511562240 64k' img.qcow2 >/dev/null"));
    const std::string img = dir.file("img.qcow2");
    Chain c = open_chain({{img}});
    ASSERT_EQ(c.status, formats::kOk);
    const Walk w = walk(c.top());
    ASSERT_EQ(w.status, formats::kOk);
    EXPECT_LT(w.ms, 100.0);
    EXPECT_LE(w.calls, 9u);
    std::printf("[ info ] sparse 1 TiB: walk %.3f ms in %llu answers\n", w.ms, (unsigned long long)w.calls);
    expect_map_matches(c, qemu_map(img));
    std::vector<uint8_t> buf(64 << 10);
    ASSERT_EQ(c.top().read((1ull << 40) - buf.size(), buf.data(), buf.size()), formats::kOk);
    EXPECT_EQ(buf.front(), 3);
    EXPECT_EQ(buf.back(), 3);
}

}  // namespace
}  // namespace instar::testing::block
