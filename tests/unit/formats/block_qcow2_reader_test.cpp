// The qcow2 and raw block readers on images qemu-img and qemu-io made:
// every byte read equals `qemu-img convert -O raw` of the same image, and
// block status agrees with `qemu-img map --output=json`, for the whole
// backing chain (depth included) and for the top image alone (opened
// without its backing file, in qemu through json:{"backing": null}).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "block_reader_support.h"
#include "qcow2_info_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::make_image;
using testing::qcow2::TempDir;

struct ImageCase {
    const char* name;
    std::string script;            // makes img.qcow2 (and what it stands on) in a fresh directory
    std::vector<ImageFile> chain;  // top first, names relative to the directory; empty: img.qcow2 alone
};

// Writes of every kind into an image of at least 4 MiB: data over several
// clusters and inside one, zero clusters (`write -z`), a zero write inside
// a data cluster, discards, and data in the 4 KiB before `end` (the end of
// the disk).
std::string writes(const std::string& img, uint64_t end) {
    const std::vector<std::string> cmds = {
        "write -P 0x5a 0 300k", "write -P 0xa5 310k 3k", "write -z 1M 128k", "write -P 0x11 2M 64k",
        "discard 2M 32k", "write -P 0x22 3M 1k", "write -z 3M 512", "write -P 0x66 3200k 2k",
        "discard 3200k 512", "write -P 0x33 " + std::to_string(end - 4096) + " 4k"};
    std::string out = "$QIO";
    for (const std::string& c : cmds) out += " -c '" + c + "'";
    return out + " " + img + " >/dev/null";
}

std::vector<ImageCase> cases() {
    const std::string sub =
        "$QIO -c 'write -P 0x44 5M 512' -c 'write -P 0x45 5121k 1k' -c 'write -z 5124k 2k' "
        "-c 'write -P 0x46 5130k 6k' -c 'discard 5130k 2k' img.qcow2 >/dev/null";
    return {
        {"v3_64k", "$QI create -q -f qcow2 img.qcow2 8M && " + writes("img.qcow2", 8u << 20), {}},
        {"v2_64k", "$QI create -q -f qcow2 -o compat=0.10 img.qcow2 8M && " + writes("img.qcow2", 8u << 20), {}},
        {"v3_512", "$QI create -q -f qcow2 -o cluster_size=512 img.qcow2 4M && " + writes("img.qcow2", 4u << 20),
         {}},
        {"v2_512",
         "$QI create -q -f qcow2 -o cluster_size=512,compat=0.10 img.qcow2 4M && " + writes("img.qcow2", 4u << 20),
         {}},
        {"v3_2M", "$QI create -q -f qcow2 -o cluster_size=2M img.qcow2 64M && " + writes("img.qcow2", 64u << 20),
         {}},
        {"size_not_cluster_multiple",
         "$QI create -q -f qcow2 img.qcow2 5000000 && " + writes("img.qcow2", 5000000 / 512 * 512), {}},
        {"extended_l2_16k", "$QI create -q -f qcow2 -o extended_l2=on,cluster_size=16k img.qcow2 8M && " +
                                writes("img.qcow2", 8u << 20) + " && " + sub,
         {}},
        {"extended_l2_64k", "$QI create -q -f qcow2 -o extended_l2=on img.qcow2 8M && " +
                                writes("img.qcow2", 8u << 20) + " && " + sub,
         {}},
        {"lazy_refcounts_refcount1",
         "$QI create -q -f qcow2 -o lazy_refcounts=on,refcount_bits=1 img.qcow2 8M && " +
             writes("img.qcow2", 8u << 20),
         {}},
        // Three qcow2 layers with different cluster sizes; the top is
        // larger than what it stands on, so its end reads past the backing
        // file's. Zero clusters and discards in upper layers hide data below.
        {"chain_three",
         "$QI create -q -f qcow2 base.qcow2 6M && " + writes("base.qcow2", 6u << 20) +
             " && $QI create -q -f qcow2 -o cluster_size=4k -b base.qcow2 -F qcow2 mid.qcow2 && "
             "$QIO -c 'write -P 0x77 200k 40k' -c 'write -z 2M 8k' -c 'discard 2060k 4k' -c 'write -P 0x78 6140k 4k' "
             "mid.qcow2 >/dev/null && "
             "$QI create -q -f qcow2 -o extended_l2=on,cluster_size=32k -b mid.qcow2 -F qcow2 img.qcow2 10M && "
             "$QIO -c 'write -P 0x88 100k 3k' -c 'write -z 230k 1k' -c 'discard 0 32k' -c 'write -P 0x89 7M 64k' "
             "img.qcow2 >/dev/null",
         {{"img.qcow2"}, {"mid.qcow2"}, {"base.qcow2"}}},
        {"chain_512_over_2M",
         "$QI create -q -f qcow2 -o cluster_size=2M base.qcow2 8M && " + writes("base.qcow2", 8u << 20) +
             " && $QI create -q -f qcow2 -o cluster_size=512 -b base.qcow2 -F qcow2 img.qcow2 && "
             "$QIO -c 'write -P 0x99 1000k 1k' -c 'write -z 1M 2k' -c 'write -P 0x9a 8191k 1k' img.qcow2 >/dev/null",
         {{"img.qcow2"}, {"base.qcow2"}}},
        {"chain_v2_over_v3",
         "$QI create -q -f qcow2 base.qcow2 4M && " + writes("base.qcow2", 4u << 20) +
             " && $QI create -q -f qcow2 -o compat=0.10 -b base.qcow2 -F qcow2 img.qcow2 6M && "
             "$QIO -c 'write -P 0x55 64k 64k' -c 'write -P 0x56 5M 10k' img.qcow2 >/dev/null",
         {{"img.qcow2"}, {"base.qcow2"}}},
        // A raw file with no holes (qemu maps a raw file's holes as zeroes,
        // which only the host can know) under a larger qcow2 image.
        {"raw_base",
         "head -c 3000000 /dev/urandom > base.raw && "
             "$QI create -q -f qcow2 -b base.raw -F raw img.qcow2 5M && " + writes("img.qcow2", 5u << 20),
         {{"img.qcow2"}, {"base.raw", abi::Format::raw}}},
    };
}

std::vector<ImageFile> in_dir(const TempDir& dir, std::vector<ImageFile> chain) {
    if (chain.empty()) chain = {{"img.qcow2"}};
    for (ImageFile& f : chain) f.path = dir.file(f.path);
    return chain;
}

class BlockQcow2Images : public ::testing::TestWithParam<ImageCase> {};

TEST_P(BlockQcow2Images, ReadsAndMapsAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, GetParam().script));
    const std::vector<ImageFile> files = in_dir(dir, GetParam().chain);
    const std::string top = files.front().path;

    // The whole chain.
    Chain chain = open_chain(files);
    ASSERT_EQ(chain.status, formats::kOk);
    std::vector<uint8_t> expected, got;
    ASSERT_TRUE(qemu_convert_raw(top, dir.file("chain.raw"), expected));
    ASSERT_EQ(read_all(chain.top(), got), formats::kOk);
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected) << "content differs from qemu-img convert";
    expect_map_matches(chain, qemu_map(top));

    // Reads at any offset and length agree with the whole.
    std::mt19937_64 rng(7);
    for (int i = 0; i < 300 && !HasFailure(); ++i) {
        const uint64_t off = rng() % expected.size();
        const size_t len = size_t(std::min<uint64_t>(1 + rng() % (200 << 10), expected.size() - off));
        std::vector<uint8_t> part(len);
        ASSERT_EQ(chain.top().read(off, part.data(), len), formats::kOk);
        EXPECT_TRUE(std::equal(part.begin(), part.end(), expected.begin() + long(off))) << off << "+" << len;
    }

    // The top layer alone: what this image holds, unallocated as zeroes.
    if (files.size() > 1) {
        Chain layer = open_chain({files.front()});
        ASSERT_EQ(layer.status, formats::kOk);
        ASSERT_TRUE(qemu_convert_raw(alone(top), dir.file("top.raw"), expected));
        ASSERT_EQ(read_all(layer.top(), got), formats::kOk);
        EXPECT_TRUE(got == expected) << "top layer's content differs from qemu-img convert";
        expect_map_matches(layer, qemu_map(alone(top)));
    }
}

INSTANTIATE_TEST_SUITE_P(BlockImages, BlockQcow2Images, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<ImageCase>& info) { return info.param.name; });

// An external data file: data clusters are at their guest offset in it.
// (qemu-io 7.2 fails writes to the last cluster of such an image: the
// writes stop short of it.)
// Without the data file the image is refused, as one that needs a file
// instar was not given; with one, reads and map agree with qemu.
TEST(BlockQcow2DataFile, ReadsTheDataFile) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    for (const char* raw : {"off", "on"}) {
        SCOPED_TRACE(std::string("data_file_raw=") + raw);
        TempDir dir;
        // qemu opens a relative data file name from its working directory.
        ASSERT_TRUE(make_image(dir, std::string("$QI create -q -f qcow2 -o data_file=\"$PWD/img.data\",data_file_raw=") + raw +
                                        " img.qcow2 8M && " + writes("img.qcow2", 7u << 20) +
                                        " && $QI create -q -f qcow2 plain.qcow2 8M"));
        const std::string img = dir.file("img.qcow2");
        EXPECT_EQ(open_chain({{img}}).status, Status::unsupported_feature);
        // Given to an image that has none, qemu refuses it too ("'data-file'
        // can only be set for images with an external data file").
        EXPECT_EQ(open_chain({{dir.file("plain.qcow2"), abi::Format::qcow2, dir.file("img.data")}}).status,
                  Status::invalid_option);

        Chain c = open_chain({{img, abi::Format::qcow2, dir.file("img.data")}});
        ASSERT_EQ(c.status, formats::kOk);
        std::vector<uint8_t> expected, got;
        ASSERT_TRUE(qemu_convert_raw(img, dir.file("out.raw"), expected));
        ASSERT_EQ(read_all(c.top(), got), formats::kOk);
        EXPECT_TRUE(got == expected);
        expect_map_matches(c, qemu_map(img));
    }
}

// Compressed clusters (qemu-io's `write -c`) next to plain data and zero
// clusters: data in block status (map agrees: data, no offset), one cluster
// per answer, and their content is qemu's.
TEST(BlockQcow2Compressed, StatusAndContent) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    for (const char* type : {"zlib", "zstd"}) {
        SCOPED_TRACE(type);
        TempDir dir;
        ASSERT_TRUE(make_image(dir, std::string("$QI create -q -f qcow2 -o compression_type=") + type +
                                        " img.qcow2 4M && $QIO -c 'write -c -P 0x31 0 64k' "
                                        "-c 'write -c -P 0x32 128k 64k' -c 'write -P 0x33 192k 64k' "
                                        "-c 'write -z 256k 64k' img.qcow2 >/dev/null"));
        const std::string img = dir.file("img.qcow2");
        Chain c = open_chain({{img}});
        ASSERT_EQ(c.status, formats::kOk);
        expect_map_matches(c, qemu_map(img));
        BlockStatus s;
        ASSERT_EQ(c.top().block_status(0, 4 << 20, s), formats::kOk);
        EXPECT_TRUE(s.kind == BlockKind::data && s.compressed);
        EXPECT_EQ(s.bytes, 64u << 10);  // one compressed cluster per answer
        EXPECT_FALSE(s.has_host_offset);
        EXPECT_GT(s.compressed_bytes, 0u);
        EXPECT_LE(s.compressed_bytes, 2u * (64 << 10));
        std::vector<uint8_t> expected, got;
        ASSERT_TRUE(qemu_convert_raw(img, dir.file("out.raw"), expected));
        ASSERT_EQ(read_all(c.top(), got), formats::kOk);
        EXPECT_TRUE(got == expected);
        // A compressed cluster read in parts, across its ends.
        std::vector<uint8_t> part(5000);
        for (uint64_t off : {uint64_t(0), uint64_t(61000), uint64_t(126000), uint64_t(130000)}) {
            ASSERT_EQ(c.top().read(off, part.data(), part.size()), formats::kOk);
            EXPECT_TRUE(std::equal(part.begin(), part.end(), expected.begin() + long(off))) << off;
        }
    }
}

// Encrypted images need a secret, which instar does not take.
TEST(BlockQcow2Encrypted, Refused) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 --object secret,id=sec0,data=123456 "
                                "-o encrypt.format=aes,encrypt.key-secret=sec0 img.qcow2 4M"));
    EXPECT_EQ(open_chain({{dir.file("img.qcow2")}}).status, Status::unsupported_feature);
}

}  // namespace
}  // namespace instar::testing::block
