// qcow2 compressed clusters, both ways, against live qemu-img:
//  - images `qemu-img convert -c` made from raw files of mixed content
//    (zlib and zstd, every cluster size kind, version 2, extended L2
//    entries) read as `qemu-img convert -O raw` reads them, and block
//    status agrees with `qemu-img map`;
//  - compressing each cluster of the source with our compressor gives the
//    very bytes qemu wrote for it, and "does not fit" exactly where qemu
//    stored the cluster uncompressed;
//  - damaged compressed clusters read as qemu reads them, or fail where
//    qemu-img fails (image_invalid).
#include <gtest/gtest.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zlib.h>
#include <zstd.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "block_reader_support.h"
#include "formats/common/compression.h"
#include "qcow2_info_support.h"

namespace instar::testing::block {
namespace {

using formats::ClusterCompression;
using testing::qcow2::get64;
using testing::qcow2::make_image;
using testing::qcow2::set64;
using testing::qcow2::TempDir;
using Bytes = std::vector<uint8_t>;

// A raw disk in pieces of 4 KiB to 128 KiB, each one kind of content:
// noise (which qemu stores uncompressed), zeroes (which convert leaves
// out), text, runs of one byte, a slow ramp, half noise half zeroes.
Bytes mixed_disk(size_t size, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes b(size);
    static const char kText[] = "The quick brown fox jumps over the lazy qcow2 cluster. ";
    for (size_t at = 0, piece; at < size; at += piece) {
        piece = (1 + rng() % 32) * 4096;
        const size_t n = std::min(piece, size - at);
        uint8_t* p = b.data() + at;
        switch (rng() % 6) {
        case 0:
            for (size_t i = 0; i < n; ++i) p[i] = uint8_t(rng());
            break;
        case 1:
            break;
        case 2:
            for (size_t i = 0; i < n; ++i) p[i] = uint8_t(kText[(i + at / 7) % (sizeof kText - 1)]);
            break;
        case 3:
            std::memset(p, int(rng() & 0xff), n);
            break;
        case 4:
            for (size_t i = 0; i < n; ++i) p[i] = uint8_t((i / 64) ^ (at >> 14));
            break;
        default:
            for (size_t i = 0; i < n / 2; ++i) p[i] = uint8_t(rng());
        }
    }
    return b;
}

struct ConvertCase {
    const char* name;
    std::string options;  // qemu-img convert -o
    size_t cluster;
    ClusterCompression type;
    size_t disk;  // bytes (whole sectors; not always whole clusters)
};

std::vector<ConvertCase> convert_cases() {
    using CC = ClusterCompression;
    return {
        {"zlib_64k", "compression_type=zlib", 64 << 10, CC::zlib, (8u << 20) + 5 * 512},
        {"zstd_64k", "compression_type=zstd", 64 << 10, CC::zstd, (8u << 20) + 5 * 512},
        {"zlib_512", "cluster_size=512", 512, CC::zlib, 2u << 20},
        {"zstd_512", "cluster_size=512,compression_type=zstd", 512, CC::zstd, 2u << 20},
        {"zlib_4k", "cluster_size=4k", 4 << 10, CC::zlib, (4u << 20) + 512},
        {"zstd_4k", "cluster_size=4k,compression_type=zstd", 4 << 10, CC::zstd, (4u << 20) + 512},
        {"zlib_2M", "cluster_size=2M", 2 << 20, CC::zlib, (10u << 20) + 3 * 512},
        {"zstd_2M", "cluster_size=2M,compression_type=zstd", 2 << 20, CC::zstd, (10u << 20) + 3 * 512},
        {"zlib_v2", "compat=0.10", 64 << 10, CC::zlib, 6u << 20},
        {"zstd_extended_l2", "extended_l2=on,compression_type=zstd", 64 << 10, CC::zstd, 6u << 20},
    };
}

// A decode scratch as convert makes one: every decoder, the largest unit.
struct SharedScratch {
    SharedScratch() {
        EXPECT_EQ(scratch.init(arena, formats::kMaxDecodeUnitBytes), formats::kOk);
    }
    std::vector<uint8_t> mem = std::vector<uint8_t>(8u << 20);
    formats::Arena arena{mem.data(), mem.size()};
    formats::DecodeScratch scratch;
};

class CompressedImages : public ::testing::TestWithParam<ConvertCase> {};

TEST_P(CompressedImages, ReadAndWrittenAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG();
    const ConvertCase& cc = GetParam();
    TempDir dir;
    const Bytes disk = mixed_disk(cc.disk, cc.cluster);
    ASSERT_TRUE(write_file(dir.file("src.raw"), disk));
    ASSERT_TRUE(make_image(dir, "$QI convert -c -O qcow2 -o " + cc.options + " src.raw img.qcow2"));
    const std::string img = dir.file("img.qcow2");

    Chain c = open_chain({{img}});
    ASSERT_EQ(c.status, formats::kOk);
    std::vector<uint8_t> expected, got;
    ASSERT_TRUE(qemu_convert_raw(img, dir.file("out.raw"), expected));
    ASSERT_EQ(read_all(c.top(), got), formats::kOk);
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected) << "content differs from qemu-img convert";
    EXPECT_TRUE(got == disk) << "content differs from the source";
    expect_map_matches(c, qemu_map(img));

    // The same through a scratch shared as convert shares it: the reader
    // itself then holds only its tables.
    SharedScratch shared;
    Chain sc = open_chain({{img}}, &shared.scratch);
    ASSERT_EQ(sc.status, formats::kOk);
    EXPECT_LT(sc.layers[0]->arena->used(), 1u << 20);
    ASSERT_EQ(read_all(sc.top(), got, 300007), formats::kOk);
    EXPECT_TRUE(got == expected) << "content through a shared scratch differs";

    // Cluster by cluster: what qemu wrote compressed, our compressor makes
    // byte for byte from the source cluster (zero-padded at the end of the
    // disk, as qemu pads it); where qemu stored data uncompressed, ours
    // does not fit either.
    std::vector<uint8_t> scratch(8u << 20);
    formats::Arena arena(scratch.data(), scratch.size());
    formats::ClusterCompressor* comp = nullptr;
    ASSERT_EQ(formats::make_cluster_compressor(cc.type, arena, cc.cluster, comp), formats::kOk);
    const Bytes file = read_file(img);
    int compressed = 0, plain = 0;
    for (uint64_t pos = 0; pos < disk.size() && !HasFailure(); pos += cc.cluster) {
        BlockStatus s;
        ASSERT_EQ(c.top().block_status(pos, cc.cluster, s), formats::kOk);
        if (s.kind != BlockKind::data) continue;
        Bytes cluster(cc.cluster, 0);
        std::copy(disk.begin() + long(pos), disk.begin() + long(std::min<uint64_t>(pos + cc.cluster, disk.size())),
                  cluster.begin());
        Bytes out(cc.cluster - 1);
        formats::Compressed res{};
        ASSERT_EQ(comp->compress(cluster.data(), cluster.size(), out.data(), out.size(), res), formats::kOk);
        SCOPED_TRACE("cluster at " + std::to_string(pos));
        if (!s.compressed) {
            ++plain;
            EXPECT_FALSE(res.fits) << "qemu stored it uncompressed";
            continue;
        }
        ++compressed;
        ASSERT_TRUE(res.fits);
        // The descriptor names whole sectors from its offset: our length
        // ends in its last one.
        EXPECT_LE(res.bytes, s.compressed_bytes);
        EXPECT_GT(res.bytes + 512, s.compressed_bytes);
        ASSERT_LE(s.compressed_offset + res.bytes, file.size());
        EXPECT_TRUE(std::equal(out.begin(), out.begin() + long(res.bytes), file.begin() + long(s.compressed_offset)))
            << "compressed bytes differ from qemu's";
    }
    EXPECT_GT(compressed, 0);
    if (cc.cluster <= (64u << 10)) {
        EXPECT_GT(plain, 0);  // noise pieces fill whole clusters
    }
}

INSTANTIATE_TEST_SUITE_P(Qcow2, CompressedImages, ::testing::ValuesIn(convert_cases()),
                         [](const ::testing::TestParamInfo<ConvertCase>& info) { return info.param.name; });

// Images of both compression types and three cluster sizes, one of them a
// chain whose layers are both compressed, all decoding in one scratch, read
// in an interleaved random order: each read is the image's own bytes, never
// what another reader (or the layer below, reached in the middle of a read)
// left in the scratch.
TEST(CompressedImagesShared, InterleavedReads) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(write_file(dir.file("a.raw"), mixed_disk(3u << 20, 1)));
    ASSERT_TRUE(write_file(dir.file("b.raw"), mixed_disk(3u << 20, 2)));
    ASSERT_TRUE(make_image(
        dir, "$QI convert -c -O qcow2 a.raw zlib.qcow2 && "
             "$QI convert -c -O qcow2 -o compression_type=zstd,cluster_size=4k b.raw zstd.qcow2 && "
             "$QI convert -c -O qcow2 -o cluster_size=16k a.raw base.qcow2 && "
             "$QI create -q -f qcow2 -o compression_type=zstd -b base.qcow2 -F qcow2 top.qcow2 && "
             "$QIO -c 'write -c -P 0x61 64k 64k' -c 'write -c -P 0x62 1M 128k' -c 'write -P 0x63 2M 4k' "
             "top.qcow2 >/dev/null"));
    SharedScratch shared;
    std::vector<Chain> chains;
    std::vector<Bytes> want;
    for (const std::vector<ImageFile>& files :
         {std::vector<ImageFile>{{dir.file("zlib.qcow2")}}, std::vector<ImageFile>{{dir.file("zstd.qcow2")}},
          std::vector<ImageFile>{{dir.file("top.qcow2")}, {dir.file("base.qcow2")}}}) {
        chains.push_back(open_chain(files, &shared.scratch));
        ASSERT_EQ(chains.back().status, formats::kOk);
        want.emplace_back();
        ASSERT_TRUE(qemu_convert_raw(files.front().path, dir.file("out.raw"), want.back()));
    }
    std::mt19937_64 rng(17);
    for (int i = 0; i < 600 && !HasFailure(); ++i) {
        const size_t k = rng() % chains.size();
        const uint64_t size = want[k].size();
        const uint64_t off = rng() % size;
        const size_t len = size_t(std::min<uint64_t>(1 + rng() % (150 << 10), size - off));
        Bytes got(len);
        ASSERT_EQ(chains[k].top().read(off, got.data(), len), formats::kOk);
        EXPECT_TRUE(std::equal(got.begin(), got.end(), want[k].begin() + long(off))) << k << " " << off << "+" << len;
    }
}

// ---- damaged compressed clusters -------------------------------------------

// 4 MiB, 64 KiB clusters; clusters 0, 1 and 3 compressed, 2 plain.
std::string base_script(ClusterCompression t) {
    return std::string("$QI create -q -f qcow2 -o compression_type=") +
           (t == ClusterCompression::zlib ? "zlib" : "zstd") +
           " img.qcow2 4M && $QIO -c 'write -c -P 0x31 0 64k' -c 'write -c -P 0x32 64k 64k' "
           "-c 'write -P 0x33 128k 64k' -c 'write -c -P 0x34 192k 64k' img.qcow2 >/dev/null";
}

constexpr uint64_t kCompressedFlag = 1ull << 62;
constexpr uint32_t kSizeShift = 54;  // 62 - (cluster_bits - 8), 64 KiB clusters
constexpr uint64_t kOffsetMask = (1ull << kSizeShift) - 1;
constexpr size_t kCluster = 64 << 10;

size_t l2_entry(const Bytes& b, size_t i) {
    const uint64_t l1 = get64(b, 40);
    return size_t((get64(b, l1) & 0x00fffffffffffe00ull) + i * 8);
}
uint64_t coffset(const Bytes& b, size_t i) { return get64(b, l2_entry(b, i)) & kOffsetMask; }
uint64_t csectors(const Bytes& b, size_t i) { return ((get64(b, l2_entry(b, i)) >> kSizeShift) & 0xff) + 1; }
void set_descriptor(Bytes& b, size_t i, uint64_t offset, uint64_t sectors) {
    set64(b, l2_entry(b, i), kCompressedFlag | ((sectors - 1) << kSizeShift) | offset);
}

// `stream` appended at the end of the file (sector aligned, plus `skew`
// bytes into its first sector), cluster i's descriptor naming it.
void point_at(Bytes& b, size_t i, const Bytes& stream, size_t skew = 0, uint64_t extra_sectors = 0) {
    b.resize((b.size() + 511) / 512 * 512 + skew);
    const uint64_t at = b.size();
    b.insert(b.end(), stream.begin(), stream.end());
    const uint64_t sectors = ((at + stream.size() + 511) / 512 - at / 512) + extra_sectors;
    set_descriptor(b, i, at, sectors);
}

Bytes deflate_raw(const Bytes& in) {
    z_stream s{};
    deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY);
    Bytes out(in.size() + 1024);
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = uInt(in.size());
    s.next_out = out.data();
    s.avail_out = uInt(out.size());
    EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
    out.resize(out.size() - s.avail_out);
    deflateEnd(&s);
    return out;
}

Bytes zstd_frame(const Bytes& in) {
    Bytes out(ZSTD_compressBound(in.size()));
    out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
    return out;
}

Bytes stream_of(ClusterCompression t, const Bytes& in) { return t == ClusterCompression::zlib ? deflate_raw(in) : zstd_frame(in); }

Bytes filled(size_t n, uint8_t v) { return Bytes(n, v); }

struct CompressedDamage {
    const char* name;
    std::function<void(Bytes&, ClusterCompression)> apply;
    // What qemu-img convert does (checked), and so what we must do: read
    // what it reads, or fail with image_invalid.
    bool qemu_reads_zlib;
    bool qemu_reads_zstd;
};

std::vector<CompressedDamage> compressed_damages() {
    using CC = ClusterCompression;
    return {
        // The bytes of cluster 1 overwritten in the middle.
        {"garbage_in_stream",
         [](Bytes& b, CC) {
             std::mt19937_64 rng(1);
             const uint64_t at = coffset(b, 1);
             for (int i = 2; i < 40; ++i) b[at + size_t(i)] = uint8_t(rng());
         },
         false, false},
        // The descriptor names a sector less than the stream needs (a
        // stream of noise, so that it spans several sectors).
        {"descriptor_too_short",
         [](Bytes& b, CC t) {
             std::mt19937_64 rng(2);
             Bytes data(kCluster, 0x41);
             for (size_t i = kCluster / 2; i < kCluster; ++i) data[i] = uint8_t(rng());
             point_at(b, 1, stream_of(t, data));
             set_descriptor(b, 1, coffset(b, 1), csectors(b, 1) - 1);
         },
         false, false},
        // More sectors than the stream needs, holding garbage: both
        // decoders stop at their stream's end.
        {"descriptor_longer_garbage_after",
         [](Bytes& b, CC t) {
             std::mt19937_64 rng(3);
             Bytes s = stream_of(t, filled(kCluster, 0x42));
             point_at(b, 1, s);
             for (int i = 0; i < 255 * 512; ++i) b.push_back(uint8_t(rng()));
             set_descriptor(b, 1, coffset(b, 1), 256);
         },
         true, true},
        // The largest descriptor (256 sectors, two clusters), the stream
        // starting 300 bytes into its first sector and running past the
        // first cluster's worth of bytes: zlib with empty stored blocks
        // ahead of the data, zstd with a skippable frame.
        {"stream_longer_than_a_cluster",
         [](Bytes& b, CC t) {
             Bytes s;
             if (t == CC::zlib) {
                 for (int i = 0; i < 14000; ++i) s.insert(s.end(), {0x00, 0x00, 0x00, 0xff, 0xff});
             } else {
                 const uint32_t skip = 70000;
                 s = {0x5a, 0x2a, 0x4d, 0x18, uint8_t(skip), uint8_t(skip >> 8), uint8_t(skip >> 16), 0};
                 s.resize(s.size() + skip, 0x77);
             }
             const Bytes tail = stream_of(t, filled(kCluster, 0x43));
             s.insert(s.end(), tail.begin(), tail.end());
             ASSERT_GT(s.size(), kCluster + 1000);
             ASSERT_LE(s.size() + 300, 2 * kCluster);
             point_at(b, 1, s, 300);
             set_descriptor(b, 1, coffset(b, 1), 256);
             b.resize(coffset(b, 1) - 300 + 256 * 512, 0);
         },
         true, true},
        // Half a cluster's worth of output.
        {"short_output", [](Bytes& b, CC t) { point_at(b, 1, stream_of(t, filled(kCluster / 2, 0x44))); }, false,
         false},
        // Two clusters' worth: zlib's one inflate call stops at a full
        // output and qemu accepts it; a zstd frame must end there.
        {"long_output", [](Bytes& b, CC t) { point_at(b, 1, stream_of(t, filled(2 * kCluster, 0x45))); }, true,
         false},
        // Two streams of half a cluster: zstd frames follow one another,
        // a deflate stream ends with its first.
        {"two_halves",
         [](Bytes& b, CC t) {
             Bytes s = stream_of(t, filled(kCluster / 2, 0x46));
             const Bytes s2 = stream_of(t, filled(kCluster / 2, 0x47));
             s.insert(s.end(), s2.begin(), s2.end());
             point_at(b, 1, s);
         },
         false, true},
        // The stream's bytes far past the end of the file: zeroes.
        {"past_end_of_file", [](Bytes& b, CC) { set_descriptor(b, 1, uint64_t(1) << 40, 4); }, false, false},
        // The file ends inside the stream: the rest reads as zeroes. A
        // zstd frame breaks; in a deflate stream zeroes are the shortest
        // Huffman codes, which here repeat a match up to a full cluster,
        // and qemu reads that.
        {"file_ends_inside_stream",
         [](Bytes& b, CC t) {
             std::string text;
             for (int i = 0; text.size() < kCluster; ++i) text += "line " + std::to_string(i * 7919 % 10007) + "\n";
             const Bytes s = stream_of(t, Bytes(text.begin(), text.begin() + long(kCluster)));
             point_at(b, 3, s);
             b.resize(b.size() - s.size() / 2);
         },
         true, false},
        // The same, the cluster one short text over and over.
        {"file_ends_inside_repeats",
         [](Bytes& b, CC t) {
             Bytes data(kCluster);
             for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t("text in a cluster "[i % 18]);
             const Bytes s = stream_of(t, data);
             point_at(b, 3, s);
             b.resize(b.size() - s.size() / 2);
         },
         true, false},
        // Only the sector's padding beyond the stream is missing.
        {"file_ends_after_stream",
         [](Bytes& b, CC t) {
             point_at(b, 3, stream_of(t, filled(kCluster, 0x48)));
             ASSERT_NE(b.size() % 512, 0u);
         },
         true, true},
    };
}

struct DamageParam {
    CompressedDamage damage;
    ClusterCompression type;
};

std::vector<DamageParam> damage_params() {
    std::vector<DamageParam> out;
    for (const CompressedDamage& d : compressed_damages()) {
        out.push_back({d, ClusterCompression::zlib});
        out.push_back({d, ClusterCompression::zstd});
    }
    return out;
}

class CompressedDamaged : public ::testing::TestWithParam<DamageParam> {};

TEST_P(CompressedDamaged, ReadsOrFailsAsQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const DamageParam& p = GetParam();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, base_script(p.type)));
    const std::string img = dir.file("img.qcow2");
    Bytes b = read_file(img);
    p.damage.apply(b, p.type);
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(write_file(img, b));

    Bytes expected, got;
    std::string err;
    const bool qemu_ok = qemu_convert_raw(img, dir.file("out.raw"), expected, &err);
    ASSERT_EQ(qemu_ok, p.type == ClusterCompression::zlib ? p.damage.qemu_reads_zlib : p.damage.qemu_reads_zstd)
        << err;

    Chain c = open_chain({{img}});
    ASSERT_EQ(c.status, formats::kOk);
    const Status st = read_all(c.top(), got);
    ASSERT_EQ(st, qemu_ok ? formats::kOk : Status::image_invalid);
    if (qemu_ok) {
        EXPECT_TRUE(got == expected) << "content differs from qemu-img convert";
    }
    // Block status does not read data: it answers all the same.
    for (uint64_t pos = 0; pos < c.top().virtual_size();) {
        BlockStatus s;
        ASSERT_EQ(c.top().block_status(pos, c.top().virtual_size() - pos, s), formats::kOk);
        pos += s.bytes;
    }
}

INSTANTIATE_TEST_SUITE_P(Qcow2, CompressedDamaged, ::testing::ValuesIn(damage_params()),
                         [](const ::testing::TestParamInfo<DamageParam>& info) {
                             return std::string(info.param.damage.name) + "_" +
                                    (info.param.type == ClusterCompression::zlib ? "zlib" : "zstd");
                         });

// A zstd cluster in zstd's pre-1.0 frame format (here just its magic and
// noise): refused as something instar cannot read, not as damage.
TEST(CompressedLegacyZstd, Unsupported) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, base_script(ClusterCompression::zstd)));
    const std::string img = dir.file("img.qcow2");
    Bytes b = read_file(img);
    Bytes s = {0x27, 0xb5, 0x2f, 0xfd};
    s.resize(600, 0x5a);
    point_at(b, 1, s);
    ASSERT_TRUE(write_file(img, b));
    Chain c = open_chain({{img}});
    ASSERT_EQ(c.status, formats::kOk);
    Bytes got(kCluster);
    EXPECT_EQ(c.top().read(kCluster, got.data(), got.size()), Status::unsupported_feature);
    // The clusters around it read.
    EXPECT_EQ(c.top().read(0, got.data(), got.size()), formats::kOk);
    EXPECT_EQ(c.top().read(2 * kCluster, got.data(), got.size()), formats::kOk);
}

}  // namespace
}  // namespace instar::testing::block
