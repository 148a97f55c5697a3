// `info` on qcow2 images: every field compared with `qemu-img info
// --output=json` of the same file, on images qemu-img and qemu-io made and
// on damaged copies of them, which must be refused exactly where qemu-img
// refuses them.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "abi/ops/info.h"
#include "formats/common/endian.h"
#include "qcow2_info_support.h"

namespace instar::testing::qcow2 {
namespace {

using formats::Status;
using nlohmann::json;

struct Case {
    const char* name;
    std::string script;
    Status expected = formats::kOk;
};

std::string many_snapshots(int n) {
    std::string s = "$QI create -q -f qcow2 img.qcow2 1M";
    for (int i = 0; i < n; ++i) s += " && $QI snapshot -c s" + std::to_string(i) + " img.qcow2";
    return s;
}

std::vector<Case> cases() {
    const std::string data =
        "$QIO -c 'write -P 0x5a 0 300k' -c 'write -P 0 1M 64k' -c 'write -z 2M 128k' img.qcow2 >/dev/null";
    const std::string raw_src = "$QI create -q -f raw src.raw 8M && $QIO -f raw -c 'write -P 0x11 0 1M' -c "
                                "'write -P 0x22 3M 100k' src.raw >/dev/null";
    std::vector<Case> c = {
        {"v2", "$QI create -q -f qcow2 -o compat=0.10 img.qcow2 1G"},
        {"v3", "$QI create -q -f qcow2 img.qcow2 1G"},
        {"v2_cluster512", "$QI create -q -f qcow2 -o compat=0.10,cluster_size=512 img.qcow2 3G"},
        {"cluster512", "$QI create -q -f qcow2 -o cluster_size=512 img.qcow2 1G"},
        {"cluster4k", "$QI create -q -f qcow2 -o cluster_size=4k img.qcow2 10G"},
        {"cluster2M", "$QI create -q -f qcow2 -o cluster_size=2M img.qcow2 2T"},
        {"cluster2M_2EiB", "$QI create -q -f qcow2 -o cluster_size=2M img.qcow2 2E"},
        {"size_zero", "$QI create -q -f qcow2 img.qcow2 0"},
        {"size_unaligned", "$QI create -q -f qcow2 img.qcow2 1000000"},
        {"extended_l2", "$QI create -q -f qcow2 -o extended_l2=on img.qcow2 5G"},
        {"extended_l2_16k", "$QI create -q -f qcow2 -o extended_l2=on,cluster_size=16k img.qcow2 1G && " + data},
        {"lazy_refcounts", "$QI create -q -f qcow2 -o lazy_refcounts=on img.qcow2 64M"},
        // qemu-io's abort leaves a lazy-refcounts image as a crashed qemu
        // would: dirty.
        {"dirty", "$QI create -q -f qcow2 -o lazy_refcounts=on img.qcow2 64M && "
                  "($QIO -c 'write -P 1 0 64k' -c abort img.qcow2 >/dev/null 2>&1; true)"},
        {"zstd_compressed", raw_src + " && $QI convert -c -O qcow2 -o compression_type=zstd src.raw img.qcow2"},
        {"zlib_compressed", raw_src + " && $QI convert -c -O qcow2 src.raw img.qcow2"},
        {"v2_compressed", raw_src + " && $QI convert -c -O qcow2 -o compat=0.10 src.raw img.qcow2"},
        {"written_and_discarded", "$QI create -q -f qcow2 img.qcow2 8M && " + data +
                                      " && $QIO -c 'discard 0 64k' -c 'write -P 7 4M 1k' img.qcow2 >/dev/null"},
        {"prealloc_metadata", "$QI create -q -f qcow2 -o preallocation=metadata img.qcow2 32M"},
        {"backing_chain", "$QI create -q -f raw base.raw 4M && $QI create -q -f qcow2 -b base.raw -F raw mid.qcow2 && "
                          "$QI create -q -f qcow2 -b mid.qcow2 -F qcow2 img.qcow2 && " + data},
        {"backing_v2", "$QI create -q -f qcow2 -o compat=0.10 -u -b base.raw -F raw img.qcow2 16M"},
        {"backing_v2_cluster512",
         "$QI create -q -f qcow2 -o compat=0.10,cluster_size=512 -u -b sub/base.qcow2 -F qcow2 img.qcow2 16M"},
        {"backing_name_odd",
         "$QI create -q -f qcow2 -u -b 'dir with space/b\xc3\xa4se \"q\".raw' -F raw img.qcow2 16M"},
        {"backing_name_1000", "$QI create -q -f qcow2 -u -b " + std::string(996, 'b') + ".raw -F raw img.qcow2 16M"},
        {"backing_absolute", "$QI create -q -f qcow2 -u -b /nonexistent/base.vmdk -F vmdk img.qcow2 16M"},
        {"data_file", "$QI create -q -f qcow2 -o data_file=img.data img.qcow2 16M && " + data},
        {"data_file_raw", "$QI create -q -f qcow2 -o data_file=img.data,data_file_raw=on img.qcow2 16M && " + data},
        {"aes", "$QI create -q -f qcow2 --object secret,id=sec0,data=123456 "
                "-o encrypt.format=aes,encrypt.key-secret=sec0 img.qcow2 16M"},
        {"aes_v2", "$QI create -q -f qcow2 --object secret,id=sec0,data=123456 "
                   "-o compat=0.10,encrypt.format=aes,encrypt.key-secret=sec0 img.qcow2 16M"},
        {"snapshots", "$QI create -q -f qcow2 img.qcow2 16M && " + data + " && $QI snapshot -c first img.qcow2 && "
                      "$QIO -c 'write -P 3 0 1M' img.qcow2 >/dev/null && "
                      "$QI snapshot -c 'second, with \"quotes\" \xc3\xa9' img.qcow2 && "
                      "$QI snapshot -c " + std::string(300, 'n') + " img.qcow2 && "
                      "$QI snapshot -d first img.qcow2 && $QI snapshot -c again img.qcow2"},
        {"snapshots_v2", "$QI create -q -f qcow2 -o compat=0.10 img.qcow2 16M && $QI snapshot -c one img.qcow2 && "
                         "$QI snapshot -c two img.qcow2"},
        {"snapshots_64", many_snapshots(64)},
        {"bitmaps", "$QI create -q -f qcow2 img.qcow2 16M && $QI bitmap --add img.qcow2 bm0 && "
                    "$QI bitmap --add -g 128k --disable img.qcow2 bm1"},
        {"everything", "$QI create -q -f raw base.raw 64M && $QI create -q -f qcow2 -o cluster_size=16k,"
                       "refcount_bits=8,lazy_refcounts=on,extended_l2=on,compression_type=zstd -b base.raw -F raw "
                       "img.qcow2 && " + data + " && $QI snapshot -c s img.qcow2"},
        {"snapshots_65", many_snapshots(65)},
    };
    for (uint32_t bits : {1u, 2u, 4u, 8u, 32u, 64u}) {
        c.push_back({nullptr, "$QI create -q -f qcow2 -o cluster_size=4k,refcount_bits=" + std::to_string(bits) +
                                  " img.qcow2 100M && " + data});
    }
    return c;
}

std::string case_name(const Case& c) {
    if (c.name) return c.name;
    size_t at = c.script.find("refcount_bits=");
    return "refcount_bits_" + c.script.substr(at + 14, c.script.find(' ', at) - at - 14);
}

class Qcow2InfoOnQemuImages : public ::testing::TestWithParam<Case> {};

TEST_P(Qcow2InfoOnQemuImages, MatchesQemuImgInfo) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const Case& c = GetParam();
    TempDir dir;
    GuestRun g;
    expect_made_like_qemu(dir, c.script, c.expected, g);
}

INSTANTIATE_TEST_SUITE_P(Images, Qcow2InfoOnQemuImages, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

// --- Damaged images -------------------------------------------------------

// One snapshot table entry, as the specification lays it out.
struct Entry {
    uint32_t extra_size = 24;
    std::string id = "1";
    std::string name = "snap";
    uint32_t vm_state_size32 = 0;
    uint64_t vm_state_size = 0;
    uint64_t icount = 5;
    uint32_t date_sec = 1700000000, date_nsec = 123456789;
    uint64_t vm_clock_nsec = 3723000000001ull;
};

std::vector<uint8_t> encode(const Entry& e) {
    std::vector<uint8_t> b(40 + e.extra_size, 0);
    set16(b, 12, uint16_t(e.id.size()));
    set16(b, 14, uint16_t(e.name.size()));
    set32(b, 16, e.date_sec);
    set32(b, 20, e.date_nsec);
    set64(b, 24, e.vm_clock_nsec);
    set32(b, 32, e.vm_state_size32);
    set32(b, 36, e.extra_size);
    std::vector<uint8_t> extra(std::max<size_t>(e.extra_size, 24), 0);
    set64(extra, 0, e.vm_state_size);
    set64(extra, 16, e.icount);
    std::copy(extra.begin(), extra.begin() + e.extra_size, b.begin() + 40);
    b.insert(b.end(), e.id.begin(), e.id.end());
    b.insert(b.end(), e.name.begin(), e.name.end());
    while (b.size() % 8) b.push_back(0);
    return b;
}

// Replaces the snapshot table with `entries`, written at the end of the
// file (nothing in the table is checked against refcounts on open).
void put_snapshots(std::vector<uint8_t>& b, const std::vector<Entry>& entries, uint32_t count_in_header) {
    const uint64_t cluster = uint64_t(1) << get32(b, 20);
    size_t at = (b.size() + cluster - 1) / cluster * cluster;
    b.resize(at);
    for (const Entry& e : entries) {
        std::vector<uint8_t> enc = encode(e);
        b.insert(b.end(), enc.begin(), enc.end());
    }
    set32(b, 60, count_in_header);
    set64(b, 64, at);
}

// Replaces the header extensions with `exts` and an end marker, the
// backing file name moved right after them.
void rewrite_exts(std::vector<uint8_t>& b, const std::vector<std::pair<uint32_t, std::string>>& exts) {
    const std::string backing(reinterpret_cast<const char*>(b.data() + get64(b, 8)), get32(b, 16));
    size_t off = get32(b, 100);
    const uint64_t cluster = uint64_t(1) << get32(b, 20);
    std::fill(b.begin() + long(off), b.begin() + long(cluster), 0);
    for (const auto& [type, data] : exts) {
        set32(b, off, type);
        set32(b, off + 4, uint32_t(data.size()));
        std::memcpy(b.data() + off + 8, data.data(), data.size());
        off += 8 + (data.size() + 7) / 8 * 8;
    }
    off += 8;  // end marker
    std::memcpy(b.data() + off, backing.data(), backing.size());
    set64(b, 8, off);
}

struct Damage {
    const char* name;
    std::function<void(std::vector<uint8_t>&)> apply;
    Status expected;  // kOk: qemu-img shows it, and so must we
};

const char* kBase = "$QI create -q -f raw base.raw 16M && $QI create -q -f qcow2 -b base.raw -F raw img.qcow2 && "
                    "$QI snapshot -c s1 img.qcow2";

std::vector<Damage> damages() {
    return {
        // Extensions.
        {"ext_reaches_past_backing_name", [](auto& b) { set32(b, find_ext(b, kExtBackingFormat) + 4, 1000); },
         Status::image_invalid},
        {"ext_reaches_past_cluster",
         [](auto& b) {
             set64(b, 8, 0);
             set32(b, find_ext(b, kExtFeatureTable) + 4, 65536);
         },
         Status::image_invalid},
        {"ext_header_crosses_backing_name", [](auto& b) { set64(b, 8, 116); set32(b, 16, 3); },
         Status::image_invalid},
        {"backing_format_16_bytes", [](auto& b) { set32(b, find_ext(b, kExtBackingFormat) + 4, 16); },
         Status::image_invalid},
        {"backing_format_15_bytes",
         [](auto& b) { rewrite_exts(b, {{kExtBackingFormat, "abcdefghijklmno"}}); }, formats::kOk},
        {"backing_format_only_nuls",
         [](auto& b) { rewrite_exts(b, {{kExtBackingFormat, std::string(5, '\0')}}); }, formats::kOk},
        {"backing_format_twice_last_wins",
         [](auto& b) { rewrite_exts(b, {{kExtBackingFormat, "vmdk"}, {kExtBackingFormat, "qcow2"}}); },
         formats::kOk},
        {"data_file_names_last_wins",
         [](auto& b) {
             rewrite_exts(b, {{kExtDataFile, "first.raw"}, {kExtDataFile, std::string("sec\0ond", 7)}});
             set64(b, 72, 4);
         },
         formats::kOk},
        {"data_file_name_empty",
         [](auto& b) {
             rewrite_exts(b, {{kExtDataFile, ""}});
             set64(b, 72, 4);
             set64(b, 88, 2);
         },
         formats::kOk},
        {"data_file_name_1024",
         [](auto& b) {
             rewrite_exts(b, {{kExtDataFile, std::string(1024, 'd')}});
             set64(b, 72, 4);
         },
         formats::kOk},
        {"data_file_name_1025",
         [](auto& b) {
             rewrite_exts(b, {{kExtDataFile, std::string(1025, 'd')}});
             set64(b, 72, 4);
         },
         Status::unsupported_feature},
        {"data_file_name_1025_nul_at_1000",
         [](auto& b) {
             rewrite_exts(b, {{kExtDataFile, std::string(1000, 'd') + '\0' + std::string(24, 'e')}});
             set64(b, 72, 4);
         },
         formats::kOk},
        {"backing_format_with_nul", [](auto& b) { b[find_ext(b, kExtBackingFormat) + 9] = 0; }, formats::kOk},
        {"backing_format_empty", [](auto& b) { set32(b, find_ext(b, kExtBackingFormat) + 4, 0); }, formats::kOk},
        {"crypto_ext_without_luks", [](auto& b) { set32(b, find_ext(b, kExtFeatureTable), kExtCrypto); },
         Status::image_invalid},
        {"bitmaps_ext_bad_length", [](auto& b) { set32(b, find_ext(b, kExtFeatureTable), kExtBitmaps); },
         Status::image_invalid},
        {"unknown_ext_skipped", [](auto& b) { set32(b, find_ext(b, kExtFeatureTable), 0x12345678); }, formats::kOk},
        {"ext_end_marker_first", [](auto& b) { set32(b, find_ext(b, kExtBackingFormat), 0); }, formats::kOk},
        {"header_length_shifts_ext_walk", [](auto& b) { set32(b, 100, 120); }, formats::kOk},
        {"header_length_cluster", [](auto& b) { set32(b, 100, 65536); set64(b, 8, 0); }, formats::kOk},
        {"unknown_autoclear_bits", [](auto& b) { set64(b, 88, 0xff00); }, formats::kOk},
        {"data_file_raw_without_data_file", [](auto& b) { set64(b, 88, 2); }, formats::kOk},
        {"data_file_bit_without_name", [](auto& b) { set64(b, 72, 4); }, Status::unsupported_feature},
        {"data_file_name_without_bit", [](auto& b) { set32(b, find_ext(b, kExtFeatureTable), kExtDataFile); },
         Status::unsupported_feature},
        // qemu-img crashes on it.
        {"luks_without_crypto_header", [](auto& b) { set32(b, 32, 2); }, Status::image_invalid},
        {"aes_by_hand", [](auto& b) { set32(b, 32, 1); }, formats::kOk},
        {"dirty_by_hand", [](auto& b) { set64(b, 72, 1); }, formats::kOk},
        {"corrupt_by_hand", [](auto& b) { set64(b, 72, 2); }, formats::kOk},
        {"lazy_refcounts_by_hand", [](auto& b) { set64(b, 80, 1); }, formats::kOk},
        {"unknown_compatible_bits", [](auto& b) { set64(b, 80, 0xf0); }, formats::kOk},

        // Backing file name.
        {"backing_name_past_cluster", [](auto& b) { set32(b, 16, uint32_t(65536 - get64(b, 8) + 1)); },
         Status::image_invalid},
        {"backing_name_1024", [](auto& b) { set32(b, 16, 1024); }, Status::image_invalid},
        {"backing_name_1023", [](auto& b) { set32(b, 16, 1023); }, formats::kOk},
        {"backing_name_empty", [](auto& b) { set32(b, 16, 0); }, formats::kOk},
        {"backing_name_with_nul", [](auto& b) { b[get64(b, 8) + 2] = 0; }, formats::kOk},
        {"backing_name_leading_nul", [](auto& b) { b[get64(b, 8)] = 0; }, formats::kOk},
        {"backing_offset_zero", [](auto& b) { set64(b, 8, 0); }, formats::kOk},
        {"backing_size_without_offset", [](auto& b) { set64(b, 8, 0); set32(b, 16, 5000); }, formats::kOk},
        {"backing_offset_past_cluster", [](auto& b) { set64(b, 8, 65537); }, Status::image_invalid},

        // Header fields.
        {"version_4", [](auto& b) { set32(b, 4, 4); }, Status::unsupported_feature},
        {"unknown_incompatible_bit", [](auto& b) { set64(b, 72, 1ull << 40); }, Status::unsupported_feature},
        {"extended_l2_small_clusters", [](auto& b) { set32(b, 20, 12); set64(b, 72, 1u << 4); set64(b, 8, 0); },
         Status::image_invalid},
        {"refcount_order_7", [](auto& b) { set32(b, 96, 7); }, Status::image_invalid},
        {"crypt_method_3", [](auto& b) { set32(b, 32, 3); }, Status::image_invalid},
        {"l1_too_small", [](auto& b) { set64(b, 24, 1ull << 40); }, Status::image_invalid},
        {"size_off_sector_grid", [](auto& b) { set64(b, 24, (16u << 20) - 100); }, formats::kOk},
        {"l1_far_past_end", [](auto& b) { set64(b, 40, 1ull << 40); }, formats::kOk},
        {"reftable_past_block_limit", [](auto& b) { set64(b, 48, 0x7fffffffc0000000ull); }, Status::image_invalid},
        {"reftable_far_past_end", [](auto& b) { set64(b, 48, 1ull << 40); }, formats::kOk},

        // Snapshot table.
        {"too_many_snapshots", [](auto& b) { set32(b, 60, 65537); }, Status::image_invalid},
        {"snapshot_table_unaligned", [](auto& b) { set64(b, 64, get64(b, 64) + 8); }, Status::image_invalid},
        {"snapshot_table_past_block_limit", [](auto& b) { set64(b, 64, 0x7fffffffc0000000ull); },
         Status::image_invalid},
        {"snapshot_table_near_block_limit", [](auto& b) { set64(b, 64, 0x7fffffffc0000000ull - 65536); },
         formats::kOk},
        {"snapshot_table_past_end", [](auto& b) { set64(b, 64, 1ull << 40); set32(b, 60, 3); }, formats::kOk},
        {"snapshot_count_beyond_table", [](auto& b) { set32(b, 60, 2); }, formats::kOk},
        {"snapshot_extra_1025",
         [](auto& b) { Entry e; e.extra_size = 1025; put_snapshots(b, {e}, 1); }, Status::image_invalid},
        {"snapshot_extra_1024",
         [](auto& b) { Entry e; e.extra_size = 1024; put_snapshots(b, {e, Entry{}}, 2); }, formats::kOk},
        {"snapshot_extra_16_no_icount",
         [](auto& b) { Entry e; e.extra_size = 16; e.vm_state_size = 1ull << 33; put_snapshots(b, {e}, 1); },
         formats::kOk},
        {"snapshot_extra_4",
         [](auto& b) { Entry e; e.extra_size = 4; e.vm_state_size32 = 77777; put_snapshots(b, {e}, 1); },
         formats::kOk},
        {"snapshot_extra_0",
         [](auto& b) { Entry e; e.extra_size = 0; e.vm_state_size32 = 4096; put_snapshots(b, {e}, 1); },
         formats::kOk},
        {"snapshot_icount_all_ones",
         [](auto& b) { Entry e; e.icount = UINT64_MAX; put_snapshots(b, {e}, 1); }, formats::kOk},
        {"snapshot_name_over_255",
         [](auto& b) { Entry e; e.name = std::string(700, 'x') + "tail"; put_snapshots(b, {e}, 1); },
         formats::kOk},
        {"snapshot_name_with_nul",
         [](auto& b) { Entry e; e.name = std::string("ab\0cd", 5); put_snapshots(b, {e}, 1); }, formats::kOk},
        {"snapshot_id_32",
         [](auto& b) { Entry e; e.id = std::string(32, '7'); put_snapshots(b, {e}, 1); }, formats::kOk},
        {"snapshot_id_over_32",
         [](auto& b) { Entry e; e.id = std::string(33, '7'); put_snapshots(b, {e}, 1); },
         Status::unsupported_feature},
        {"snapshot_id_nul_shortens",
         [](auto& b) { Entry e; e.id = std::string(5, '7') + '\0' + std::string(60, '8'); put_snapshots(b, {e}, 1); },
         formats::kOk},
        {"snapshot_empty_strings",
         [](auto& b) { Entry e; e.id = ""; e.name = ""; put_snapshots(b, {e, e}, 2); }, formats::kOk},
    };
}

class Qcow2InfoDamaged : public ::testing::TestWithParam<Damage> {};

TEST_P(Qcow2InfoDamaged, RefusesWhereQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBase));
    const std::string path = dir.file("img.qcow2");
    std::vector<uint8_t> bytes = read_file(path);
    d.apply(bytes);
    ASSERT_TRUE(write_file(path, bytes));

    std::optional<json> q = qemu_info(path);
    GuestRun g = guest_info(path);
    EXPECT_EQ(g.status, d.expected);
    if (d.expected == formats::kOk) {
        ASSERT_TRUE(q) << "qemu-img refuses it";
        if (g.status == formats::kOk) expect_same(g, *q);
    } else if (d.expected == Status::unsupported_feature && q) {
        SUCCEED() << "valid, but not describable: " << q->dump();
    } else {
        EXPECT_FALSE(q) << "qemu-img shows it:\n" << q->dump(4);
    }
}

INSTANTIATE_TEST_SUITE_P(Headers, Qcow2InfoDamaged, ::testing::ValuesIn(damages()),
                         [](const ::testing::TestParamInfo<Damage>& info) { return std::string(info.param.name); });

// A bitmap image, damaged: the extension is checked only while its
// autoclear bit says a bitmap-aware program wrote the image last.
TEST(Qcow2Info, BitmapExtensionChecks) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 img.qcow2 16M && $QI bitmap --add img.qcow2 bm0"));
    const std::string path = dir.file("img.qcow2");
    const std::vector<uint8_t> base = read_file(path);
    const size_t ext = find_ext(base, kExtBitmaps);
    const std::vector<PatchVariant> variants = {
        {"as made", [](auto&) {}, formats::kOk},
        {"autoclear bit clear", [](auto& b) { set64(b, 88, 0); }, formats::kOk},
        {"reserved set", [&](auto& b) { set32(b, ext + 12, 1); }, Status::image_invalid},
        {"reserved set, autoclear clear", [&](auto& b) { set32(b, ext + 12, 1); set64(b, 88, 0); }, formats::kOk},
        {"no bitmaps", [&](auto& b) { set32(b, ext + 8, 0); }, Status::image_invalid},
        {"65536 bitmaps", [&](auto& b) { set32(b, ext + 8, 65536); }, Status::image_invalid},
        {"directory unaligned", [&](auto& b) { set64(b, ext + 24, get64(b, ext + 24) + 8); }, Status::image_invalid},
        {"directory too large", [&](auto& b) { set64(b, ext + 16, 1024ull * 65535 + 1); }, Status::image_invalid},
        {"length 16", [&](auto& b) { set32(b, ext + 4, 16); set64(b, 88, 0); }, Status::image_invalid},
    };
    expect_variants_like_qemu(base, path, variants);
}

// Cut at every interesting length: where qemu still opens what is left
// (everything past the end reads as zeroes), the answers must agree.
TEST(Qcow2Info, TruncatedLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    const struct {
        const char* script;
    } images[] = {
        {kBase},
        {"$QI create -q -f qcow2 -o compat=0.10 -u -b base.raw -F raw img.qcow2 16M"},
        {"$QI create -q -f qcow2 -o compression_type=zstd,cluster_size=512 img.qcow2 16M"},
    };
    for (const auto& image : images) {
        ASSERT_TRUE(make_image(dir, image.script));
        const std::vector<uint8_t> full = read_file(dir.file("img.qcow2"));
        std::vector<size_t> lengths = {0, 4, 7, 8, 20, 40, 56, 60, 64, 71, 72, 80, 100, 103, 104, 105, 111, 112,
                                       120, 127, 200, 400, 512, 520, 528, 530, 4096, 65536, 65600, 131072, 196608,
                                       full.size() - 1};
        expect_truncations_like_qemu(full, dir.file("cut.qcow2"), lengths, std::string(image.script) + " ");
    }
}

// Every header byte changed in turn: accepted or refused as qemu-img does.
// Where qemu shows an image the result cannot describe (an external data
// file bit without a name), the refusal must say so.
TEST(Qcow2Info, HeaderBytesLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBase));
    const std::vector<uint8_t> base = read_file(dir.file("img.qcow2"));
    const std::string path = dir.file("flip.qcow2");
    BitFlips flips;
    for (size_t off = 0; off < 112; ++off) flips.offsets.push_back(off);
    flips.undescribable = [](const std::vector<uint8_t>& b) {
        const bool undescribable = (get64(b, 72) & 4) || get32(b, 60) > abi::kInfoMaxSnapshots;
        return undescribable && get32(b, 4) == 3 && get32(b, 0) == 0x514649fb;
    };
    expect_bit_flips_like_qemu(base, path, flips);
}

// The same for the bytes that steer the walks after the header: the
// first extension headers and a snapshot entry's fixed part and extra
// data (names are left alone: flipped bytes there are just other names).
TEST(Qcow2Info, MetadataBytesLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBase));
    const std::vector<uint8_t> base = read_file(dir.file("img.qcow2"));
    const std::string path = dir.file("flip.qcow2");
    std::vector<size_t> offsets;
    for (size_t off = 112; off < 136; ++off) {
        if (off < 120 || off >= 128) offsets.push_back(off);  // not the format name "raw"
    }
    for (size_t off = 0; off < 64; ++off) offsets.push_back(size_t(get64(base, 64)) + off);
    expect_bit_flips_like_qemu(base, path, {offsets});
}

// A snapshot table longer than qemu's 64 MiB cap is refused, even though
// its count alone would only make it undescribable.
TEST(Qcow2Info, SnapshotTableTooBig) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 img.qcow2 16M"));
    const std::string path = dir.file("img.qcow2");
    std::vector<uint8_t> head = read_file(path);
    const uint64_t table = 1ull << 20;
    // Each entry: 40 + 1024 + 65535 + 65535 bytes, rounded up to 8.
    const uint64_t entry = (40 + 1024 + 65535 + 65535 + 7) / 8 * 8;
    const uint32_t count = uint32_t((64ull << 20) / entry + 2);
    {
        int fd = open(path.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        std::vector<uint8_t> hdr(40, 0);
        set16(hdr, 12, 65535);
        set16(hdr, 14, 65535);
        set32(hdr, 36, 1024);
        for (uint32_t i = 0; i < count; ++i) {
            ASSERT_EQ(pwrite(fd, hdr.data(), hdr.size(), off_t(table + i * entry)), 40);
        }
        std::vector<uint8_t> ptr(12);
        formats::store_be32(ptr.data(), count);
        formats::store_be64(ptr.data() + 4, table);
        ASSERT_EQ(pwrite(fd, ptr.data(), ptr.size(), 60), 12);
        close(fd);
    }
    EXPECT_FALSE(qemu_info(path));
    EXPECT_EQ(guest_info(path).status, Status::image_invalid);

    // One entry fewer than the cap allows is fine for qemu, and every
    // entry is listed (each one a record to the host).
    int fd = open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::vector<uint8_t> n(4);
    formats::store_be32(n.data(), uint32_t((64ull << 20) / entry));
    ASSERT_EQ(pwrite(fd, n.data(), 4, 60), 4);
    close(fd);
    ASSERT_TRUE(qemu_info(path));
    expect_like_qemu(path);
}

// A hostile header cluster made of empty unknown extensions: the walk is
// bounded and reads the device a few times, not once per extension.
TEST(Qcow2Info, ExtensionWalkReadsLittle) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 -o cluster_size=256k img.qcow2 16M"));
    const std::string path = dir.file("img.qcow2");
    std::vector<uint8_t> b = read_file(path);
    for (size_t off = 112; off + 8 <= (256u << 10); off += 8) {
        set32(b, off, 0x11111111);
        set32(b, off + 4, 0);
    }
    ASSERT_TRUE(write_file(path, b));
    std::optional<json> q = qemu_info(path);
    ASSERT_TRUE(q);
    GuestRun g = guest_info(path);
    ASSERT_EQ(g.status, formats::kOk);
    expect_same(g, *q);
    EXPECT_LE(g.reads, 8u);  // the header, then 256 KiB in 64 KiB windows
}

// What instar's own emitter writes reads back as qemu-img reads it.
TEST(Qcow2Info, ReadsWhatTheEmitterWrites) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    Qcow2Options variants[4];
    variants[1].version = 2;
    variants[1].cluster_size = 512;
    variants[2].extended_l2 = true;
    variants[2].lazy_refcounts = true;
    variants[2].zstd = true;
    variants[2].refcount_bits = 64;
    variants[3].backing = "base image.raw";
    variants[3].backing_format = abi::Format::raw;
    variants[3].size = 5ull << 30;
    for (const Qcow2Options& o : variants) {
        auto req = make_request(o);
        const std::string path = dir.file("emitted.qcow2");
        FileSink sink(path);
        ASSERT_TRUE(sink.ok());
        ASSERT_EQ(emit(*req, o.size, sink).status, formats::kOk);
        expect_like_qemu(path);
    }
}

TEST(Qcow2Info, ReportsReadErrors) {
    struct Broken : formats::ImageSource {
        uint64_t size() const override { return 1 << 20; }
        bool read(uint64_t, void*, size_t) override { return false; }
    } src;
    EXPECT_EQ(guest_info(src).status, Status::read_failed);
}

TEST(Qcow2Info, ClearsTheResultOnRefusal) {
    MemorySource src(std::vector<uint8_t>(4096, 0));
    GuestRun g = guest_info(src);
    EXPECT_EQ(g.status, Status::image_invalid);
    EXPECT_EQ(g.info->flags, 0u);
    EXPECT_EQ(g.info->snapshot_count, 0u);
}

}  // namespace
}  // namespace instar::testing::qcow2
