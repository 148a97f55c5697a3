// `info` on LUKS-encrypted qcow2 images and on qcow2 images with persistent
// dirty bitmaps: every field compared with `qemu-img info --output=json`
// of the same file, on images qemu-img and qemu-io made and on damaged
// copies of them (LUKS header fields, the bitmap directory, bitmap
// tables), which must be refused exactly where qemu-img refuses them.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "abi/ops/info.h"
#include "qcow2_info_support.h"

namespace instar::testing::qcow2 {
namespace {

using formats::Status;
using nlohmann::json;

const std::string kLuksCreate =
    "$QI create -q -f qcow2 --object secret,id=sec0,data=123456 "
    "-o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10";

// Making a LUKS image takes qemu-img seconds (it times its key derivation),
// so the damaged-header tests share one, made once.
const std::vector<uint8_t>& luks_image() {
    static TempDir dir;
    static std::vector<uint8_t> bytes;
    if (bytes.empty() && make_image(dir, kLuksCreate + " img.qcow2 16M")) bytes = read_file(dir.file("img.qcow2"));
    return bytes;
}

// Where the LUKS header of a qemu-made image lies.
size_t luks_at(const std::vector<uint8_t>& b) { return size_t(get64(b, find_ext(b, kExtCrypto) + 8)); }

// ---- LUKS images qemu-img makes ---------------------------------------------

struct LuksCase {
    const char* name;
    std::string options;  // more -o options
    std::string extra;    // more commands after the image exists
};

std::vector<LuksCase> luks_cases() {
    return {
        {"aes_128_sha1", ",encrypt.cipher-alg=aes-128,encrypt.hash-alg=sha1", ""},
        {"cbc_essiv", ",encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv", ""},
        {"twofish_essiv_md5",
         ",encrypt.cipher-alg=twofish-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=md5,"
         "encrypt.hash-alg=sha512",
         ""},
        {"cast5_ctr_plain", ",encrypt.cipher-alg=cast5-128,encrypt.cipher-mode=ctr,encrypt.ivgen-alg=plain", ""},
        {"cluster_4k_with_backing", ",cluster_size=4k -u -b base.raw -F raw", ""},
        // Bitmaps of an encrypted image can only be changed with its key.
        {"with_bitmap", "",
         " && $QI bitmap --object secret,id=s,data=123456 --image-opts "
         "driver=qcow2,encrypt.key-secret=s,file.filename=img.qcow2 --add -g 4M bm"},
    };
}

class LuksImages : public ::testing::TestWithParam<LuksCase> {};

TEST_P(LuksImages, MatchesQemuImgInfo) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const LuksCase& c = GetParam();
    TempDir dir;
    GuestRun g;
    expect_made_like_qemu(dir, kLuksCreate + c.options + " img.qcow2 16M" + c.extra, formats::kOk, g);
    if (g.status != formats::kOk) return;  // (reported)
    EXPECT_EQ(g.info->qcow2.encrypt_format, uint32_t(abi::Qcow2EncryptFormat::luks));
}

INSTANTIATE_TEST_SUITE_P(Images, LuksImages, ::testing::ValuesIn(luks_cases()),
                         [](const ::testing::TestParamInfo<LuksCase>& info) { return std::string(info.param.name); });

// ---- damaged LUKS headers ---------------------------------------------------

// LUKS1 header fields (big-endian), from the header's start.
constexpr size_t kLVersion = 6, kLCipherName = 8, kLCipherMode = 40, kLHashSpec = 72, kLPayload = 104,
                 kLKeyBytes = 108, kLMkIters = 164, kLUuid = 168, kLSlots = 208, kLSlotBytes = 48;
constexpr size_t kSActive = 0, kSIters = 4, kSKeyOffset = 40, kSStripes = 44;
constexpr uint32_t kSlotEnabled = 0x00ac71f3;

struct LuksDamage {
    const char* name;
    std::function<void(std::vector<uint8_t>&, size_t)> apply;  // bytes, header offset
    Status expected;  // kOk: qemu-img shows it, and so must we
};

void put_name(std::vector<uint8_t>& b, size_t at, const std::string& s) {
    std::fill(b.begin() + long(at), b.begin() + long(at + 32), 0);
    std::memcpy(b.data() + at, s.data(), std::min<size_t>(s.size(), 32));
}

size_t slot(size_t h, int i) { return h + kLSlots + size_t(i) * kLSlotBytes; }

std::vector<LuksDamage> luks_damages() {
    const Status bad = Status::image_invalid;
    const Status ok = formats::kOk;
    return {
        {"as_made", [](auto&, size_t) {}, ok},
        {"magic", [](auto& b, size_t h) { b[h] ^= 1; }, bad},
        {"version_2", [](auto& b, size_t h) { set16(b, h + kLVersion, 2); }, bad},
        {"version_257", [](auto& b, size_t h) { set16(b, h + kLVersion, 0x101); }, bad},
        {"cipher_name_unterminated", [](auto& b, size_t h) { put_name(b, h + kLCipherName, std::string(32, 'a')); },
         bad},
        {"cipher_mode_unterminated", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, std::string(32, 'x')); },
         bad},
        {"hash_unterminated", [](auto& b, size_t h) { put_name(b, h + kLHashSpec, std::string(32, 's')); }, bad},
        {"cipher_des", [](auto& b, size_t h) { put_name(b, h + kLCipherName, "des"); set32(b, h + kLKeyBytes, 8); },
         bad},
        {"cipher_sm4", [](auto& b, size_t h) { put_name(b, h + kLCipherName, "sm4"); set32(b, h + kLKeyBytes, 32); },
         bad},
        {"cipher_twofish", [](auto& b, size_t h) { put_name(b, h + kLCipherName, "twofish"); }, ok},
        {"cipher_serpent_48", [](auto& b, size_t h) { put_name(b, h + kLCipherName, "serpent"); set32(b, h + kLKeyBytes, 48); },
         ok},
        {"cipher_upper_case", [](auto& b, size_t h) { put_name(b, h + kLCipherName, "AES"); }, bad},
        {"xts_key_33_is_aes_128", [](auto& b, size_t h) { set32(b, h + kLKeyBytes, 33); }, ok},
        {"xts_key_65", [](auto& b, size_t h) { set32(b, h + kLKeyBytes, 65); }, bad},
        {"key_bytes_0", [](auto& b, size_t h) { set32(b, h + kLKeyBytes, 0); }, bad},
        {"key_bytes_huge", [](auto& b, size_t h) { set32(b, h + kLKeyBytes, 1073742); }, bad},
        {"cbc_key_64", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "cbc-plain64"); }, bad},
        {"cbc_key_32",
         [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "cbc-plain64"); set32(b, h + kLKeyBytes, 32); }, ok},
        {"ecb_key_16",
         [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "ecb-plain"); set32(b, h + kLKeyBytes, 16); }, ok},
        {"ctr_key_24",
         [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "ctr-plain"); set32(b, h + kLKeyBytes, 24); }, ok},
        {"mode_without_dash", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts"); }, bad},
        {"mode_unknown", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "gcm-plain64"); }, bad},
        {"mode_upper_case", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "XTS-plain64"); }, bad},
        {"mode_colon_before_dash", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts:sha1-plain"); }, bad},
        {"ivgen_unknown", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-benbi"); }, bad},
        {"ivgen_plain_hash_ignored", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-plain:sha1"); }, ok},
        {"ivgen_plain_hash_unknown", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-plain:sha3"); }, bad},
        {"ivgen_plain64_empty_hash", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-plain64:"); }, bad},
        {"essiv_without_hash", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv"); }, bad},
        {"essiv_sha256", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:sha256"); }, ok},
        {"essiv_md5", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:md5"); }, ok},
        {"essiv_sha1", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:sha1"); }, bad},
        {"essiv_sha512", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:sha512"); }, bad},
        {"essiv_sha224", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:sha224"); }, bad},
        {"essiv_sha384", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:sha384"); }, bad},
        {"essiv_ripemd160", [](auto& b, size_t h) { put_name(b, h + kLCipherMode, "xts-essiv:ripemd160"); }, bad},
        {"essiv_cast5_md5",
         [](auto& b, size_t h) {
             put_name(b, h + kLCipherName, "cast5");
             put_name(b, h + kLCipherMode, "cbc-essiv:md5");
             set32(b, h + kLKeyBytes, 16);
         },
         ok},
        {"essiv_cast5_sha256",
         [](auto& b, size_t h) {
             put_name(b, h + kLCipherName, "cast5");
             put_name(b, h + kLCipherMode, "cbc-essiv:sha256");
             set32(b, h + kLKeyBytes, 16);
         },
         bad},
        {"mode_text_after_nul",
         [](auto& b, size_t h) { std::memcpy(b.data() + h + kLCipherMode + 12, "junk", 4); }, ok},
        {"hash_sha224", [](auto& b, size_t h) { put_name(b, h + kLHashSpec, "sha224"); }, ok},
        {"hash_ripemd160", [](auto& b, size_t h) { put_name(b, h + kLHashSpec, "ripemd160"); }, ok},
        {"hash_sm3", [](auto& b, size_t h) { put_name(b, h + kLHashSpec, "sm3"); }, bad},
        {"hash_empty", [](auto& b, size_t h) { put_name(b, h + kLHashSpec, ""); }, bad},
        {"payload_in_header", [](auto& b, size_t h) { set32(b, h + kLPayload, 7); }, bad},
        {"payload_over_a_slot", [](auto& b, size_t h) { set32(b, h + kLPayload, 3000); }, bad},
        {"payload_just_fits", [](auto& b, size_t h) { set32(b, h + kLPayload, get32(b, slot(h, 7) + kSKeyOffset) + 504); },
         ok},
        {"payload_one_short",
         [](auto& b, size_t h) { set32(b, h + kLPayload, get32(b, slot(h, 7) + kSKeyOffset) + 503); }, bad},
        {"payload_max", [](auto& b, size_t h) { set32(b, h + kLPayload, 0xffffffff); }, ok},
        {"master_key_iters_0", [](auto& b, size_t h) { set32(b, h + kLMkIters, 0); }, bad},
        {"master_key_iters_max", [](auto& b, size_t h) { set32(b, h + kLMkIters, 0xffffffff); }, ok},
        {"uuid_short", [](auto& b, size_t h) { b[h + kLUuid + 2] = 0; }, ok},
        {"uuid_40_bytes", [](auto& b, size_t h) { std::fill_n(b.begin() + long(h + kLUuid), 40, 'u'); }, ok},
        {"uuid_empty", [](auto& b, size_t h) { b[h + kLUuid] = 0; }, ok},
        {"stripes_3999", [](auto& b, size_t h) { set32(b, slot(h, 3) + kSStripes, 3999); }, bad},
        {"stripes_0_active", [](auto& b, size_t h) { set32(b, slot(h, 0) + kSStripes, 0); }, bad},
        {"slot_state_corrupt", [](auto& b, size_t h) { set32(b, slot(h, 2) + kSActive, 1); }, bad},
        {"slot_enabled_without_iterations", [](auto& b, size_t h) { set32(b, slot(h, 2) + kSActive, kSlotEnabled); },
         bad},
        {"slot_enabled",
         [](auto& b, size_t h) {
             set32(b, slot(h, 5) + kSActive, kSlotEnabled);
             set32(b, slot(h, 5) + kSIters, 1);
         },
         ok},
        {"inactive_slot_iterations_kept", [](auto& b, size_t h) { set32(b, slot(h, 4) + kSIters, 77); }, ok},
        {"slot_in_header", [](auto& b, size_t h) { set32(b, slot(h, 0) + kSKeyOffset, 7); }, bad},
        {"slot_overlaps_next", [](auto& b, size_t h) { set32(b, slot(h, 0) + kSKeyOffset, 9); }, bad},
        {"slots_swapped",
         [](auto& b, size_t h) {
             uint32_t a = get32(b, slot(h, 1) + kSKeyOffset);
             set32(b, slot(h, 1) + kSKeyOffset, get32(b, slot(h, 6) + kSKeyOffset));
             set32(b, slot(h, 6) + kSKeyOffset, a);
         },
         ok},
        {"slot_past_payload", [](auto& b, size_t h) { set32(b, slot(h, 7) + kSKeyOffset, 5000); }, bad},
        // qemu adds 32-bit sector numbers: a slot wrapping past 2^32 ends
        // "before" the payload, and two such slots never overlap.
        {"slot_wraps", [](auto& b, size_t h) { set32(b, slot(h, 7) + kSKeyOffset, 0xffffff00); }, ok},
        {"slots_wrap_together",
         [](auto& b, size_t h) {
             set32(b, slot(h, 6) + kSKeyOffset, 0xffffff00);
             set32(b, slot(h, 7) + kSKeyOffset, 0xffffff80);
         },
         ok},
        {"slot_ends_at_2_32", [](auto& b, size_t h) { set32(b, slot(h, 7) + kSKeyOffset, 0xfffffe08); }, ok},
        {"slot_ends_just_below_2_32", [](auto& b, size_t h) { set32(b, slot(h, 7) + kSKeyOffset, 0xfffffe00); },
         bad},
    };
}

class LuksDamaged : public ::testing::TestWithParam<LuksDamage> {};

TEST_P(LuksDamaged, RefusesWhereQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const LuksDamage& d = GetParam();
    ASSERT_FALSE(luks_image().empty());
    TempDir dir;
    std::vector<uint8_t> b = luks_image();
    d.apply(b, luks_at(b));
    const std::string path = dir.file("img.qcow2");
    expect_bytes_like_qemu(b, path, d.expected);
}

INSTANTIATE_TEST_SUITE_P(Headers, LuksDamaged, ::testing::ValuesIn(luks_damages()),
                         [](const ::testing::TestParamInfo<LuksDamage>& info) { return std::string(info.param.name); });

// Where the header lies: the crypto header extension.
TEST(Qcow2LuksInfo, HeaderExtensionLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    ASSERT_FALSE(luks_image().empty());
    const std::vector<uint8_t>& base = luks_image();
    const size_t ext = find_ext(base, kExtCrypto);
    TempDir dir;
    const std::string path = dir.file("img.qcow2");
    const std::vector<PatchVariant> variants = {
        {"length 591", [&](auto& b) { set64(b, ext + 16, 591); }, Status::image_invalid},
        {"length 592", [&](auto& b) { set64(b, ext + 16, 592); }, formats::kOk},
        {"length 0", [&](auto& b) { set64(b, ext + 16, 0); }, Status::image_invalid},
        {"offset unaligned", [&](auto& b) { set64(b, ext + 8, get64(b, ext + 8) + 512); }, Status::image_invalid},
        {"offset past the end", [&](auto& b) { set64(b, ext + 8, 1ull << 40); }, Status::image_invalid},
        {"offset past the block limit", [&](auto& b) { set64(b, ext + 8, 0x7fffffffc0000000ull); },
         Status::image_invalid},
        {"offset near 2^64", [&](auto& b) { set64(b, ext + 8, ~uint64_t(0xffff)); }, Status::image_invalid},
        {"extension length 24", [&](auto& b) { set32(b, ext + 4, 24); }, Status::image_invalid},
        {"method AES", [&](auto& b) { set32(b, 32, 1); }, Status::image_invalid},
        {"no extension (qemu-img crashes)", [&](auto& b) { set32(b, ext, 0x12345678); }, Status::image_invalid},
        {"version 2 (no extensions read where v3 ones are)", [&](auto& b) { set32(b, 4, 2); }, Status::image_invalid},
    };
    expect_variants_like_qemu(base, path, variants);
}

// A second crypto header extension: qemu opens both, shows the last.
TEST(Qcow2LuksInfo, TwoHeaderExtensions) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    ASSERT_FALSE(luks_image().empty());
    std::vector<uint8_t> b = luks_image();
    const size_t ext = find_ext(b, kExtCrypto);
    const uint64_t header = get64(b, ext + 8);
    // A copy of the LUKS header at the end of the file, with other values.
    const uint64_t copy = (b.size() + 65535) / 65536 * 65536;
    b.resize(copy + 65536);
    std::memcpy(b.data() + copy, b.data() + header, 592);
    set32(b, size_t(copy) + kLMkIters, 12345);
    put_name(b, size_t(copy) + kLHashSpec, "sha1");
    // Move the extensions after the crypto one along by 24 bytes.
    const size_t after = ext + 24;
    std::vector<uint8_t> tail(b.begin() + long(after), b.begin() + long(after + 4096));
    set32(b, after, kExtCrypto);
    set32(b, after + 4, 16);
    set64(b, after + 8, copy);
    set64(b, after + 16, 592);
    std::copy(tail.begin(), tail.end() - 24, b.begin() + long(after + 24));
    TempDir dir;
    const std::string path = dir.file("img.qcow2");
    ASSERT_TRUE(write_file(path, b));
    std::optional<json> q = qemu_info(path);
    ASSERT_TRUE(q);
    EXPECT_EQ((*q)["format-specific"]["data"]["encrypt"]["master-key-iters"], 12345);
    expect_like_qemu(path);
    // Either header being bad is enough for qemu to refuse.
    set32(b, size_t(header), 0);
    ASSERT_TRUE(write_file(path, b));
    expect_like_qemu(path);
    EXPECT_NE(guest_info(path).status, formats::kOk);
}

// Every byte of the header that is not salt or digest, changed in turn.
TEST(Qcow2LuksInfo, HeaderBytesLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    ASSERT_FALSE(luks_image().empty());
    const std::vector<uint8_t>& base = luks_image();
    const size_t h = luks_at(base);
    std::vector<size_t> offsets;
    for (size_t off = 0; off < 112; ++off) offsets.push_back(off);
    for (size_t off = kLMkIters; off < kLSlots; ++off) offsets.push_back(off);
    for (size_t s = 0; s < 8; ++s) {
        for (size_t off : {0, 1, 2, 3, 4, 7, 40, 41, 42, 43, 44, 45, 46, 47}) offsets.push_back(kLSlots + s * 48 + off);
    }
    TempDir dir;
    const std::string path = dir.file("flip.qcow2");
    BitFlips flips{offsets, h, "LUKS header byte"};
    // (A uuid byte turned non-ASCII is just another uuid.)
    flips.skip = [](size_t off, uint8_t mask) { return mask == 0x80 && off >= kLUuid && off < kLUuid + 40; };
    expect_bit_flips_like_qemu(base, path, flips);
}

// The qcow2 header and the crypto header extension of a LUKS image, each
// byte changed in turn (the method, the version, the extension walk).
TEST(Qcow2LuksInfo, QcowHeaderBytesLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    ASSERT_FALSE(luks_image().empty());
    const std::vector<uint8_t>& base = luks_image();
    const size_t ext = find_ext(base, kExtCrypto);
    std::vector<size_t> offsets;
    for (size_t off = 0; off < 112; ++off) offsets.push_back(off);
    for (size_t off = 0; off < 24; ++off) offsets.push_back(ext + off);
    TempDir dir;
    const std::string path = dir.file("flip.qcow2");
    BitFlips flips{offsets};
    flips.undescribable = [](const std::vector<uint8_t>& b) {
        return (get64(b, 72) & 4) && get32(b, 4) == 3 && get32(b, 0) == 0x514649fb;
    };
    expect_bit_flips_like_qemu(base, path, flips);
}

// Cut anywhere in the LUKS header: what is left reads as zeroes.
TEST(Qcow2LuksInfo, TruncatedLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    ASSERT_FALSE(luks_image().empty());
    const std::vector<uint8_t>& full = luks_image();
    const size_t h = luks_at(full);
    TempDir dir;
    const std::string path = dir.file("cut.qcow2");
    expect_truncations_like_qemu(full, path, {size_t(0), size_t(112), h, h + 6, h + 104, h + 200, h + 591, h + 592, h + 4096});
}

// ---- bitmaps ---------------------------------------------------------------------

struct BitmapCase {
    const char* name;
    std::string script;
};

std::vector<BitmapCase> bitmap_cases() {
    const std::string create = "$QI create -q -f qcow2 img.qcow2 ";
    return {
        {"enabled", create + "16M && $QI bitmap --add img.qcow2 bm0"},
        {"disabled", create + "16M && $QI bitmap --add --disable img.qcow2 bm0"},
        {"granularity_512_and_2G", create + "1G && $QI bitmap --add -g 512 img.qcow2 small && "
                                            "$QI bitmap --add -g 2G img.qcow2 large"},
        {"cleared_and_merged", create + "16M && $QI bitmap --add img.qcow2 a && $QI bitmap --add img.qcow2 b && "
                                        "$QIO -c 'write 0 1M' img.qcow2 >/dev/null && "
                                        "$QI bitmap --merge a img.qcow2 b && "
                                        "$QI bitmap --clear img.qcow2 a && $QI bitmap --remove img.qcow2 b"},
        {"written_data", create + "64M && $QI bitmap --add -g 4k img.qcow2 bm && "
                                  "$QIO -c 'write -P 1 0 10M' -c 'write -P 2 40M 1M' img.qcow2 >/dev/null"},
        // qemu marks the bitmaps it loads "in use"; a crash leaves them so.
        {"in_use", create + "16M && $QI bitmap --add img.qcow2 x && $QI bitmap --add --disable img.qcow2 y && "
                            "($QIO -c 'write 0 64k' -c abort img.qcow2 >/dev/null 2>&1; true)"},
        {"name_1023", create + "16M && $QI bitmap --add img.qcow2 " + std::string(1023, 'n')},
        {"names_odd", create + "16M && $QI bitmap --add img.qcow2 'with space' && "
                               "$QI bitmap --add img.qcow2 \"$(printf 'caf\\303\\251\\001\\177')\" && "
                               "$QI bitmap --add img.qcow2 '\"q\\\\'"},
        {"many", create + "16M && for i in $(seq 1 40); do $QI bitmap --add img.qcow2 bm$i || exit 1; done"},
        {"cluster_512", "$QI create -q -f qcow2 -o cluster_size=512 img.qcow2 64M && "
                        "$QI bitmap --add -g 512 img.qcow2 a && $QI bitmap --add img.qcow2 b"},
        {"cluster_2M", "$QI create -q -f qcow2 -o cluster_size=2M img.qcow2 2E && $QI bitmap --add -g 2G img.qcow2 a"},
        {"with_snapshot_and_backing", "$QI create -q -f raw base.raw 16M && "
                                      "$QI create -q -f qcow2 -b base.raw -F raw img.qcow2 && "
                                      "$QI bitmap --add img.qcow2 bm && $QI snapshot -c s img.qcow2"},
        {"extended_l2_zstd", "$QI create -q -f qcow2 -o extended_l2=on,compression_type=zstd img.qcow2 1G && "
                             "$QI bitmap --add img.qcow2 bm"},
    };
}

class BitmapImages : public ::testing::TestWithParam<BitmapCase> {};

TEST_P(BitmapImages, MatchesQemuImgInfo) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const BitmapCase& c = GetParam();
    TempDir dir;
    GuestRun g;
    expect_made_like_qemu(dir, c.script, formats::kOk, g);
    if (g.status != formats::kOk) return;  // (reported)
    EXPECT_GT(g.bitmaps.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Images, BitmapImages, ::testing::ValuesIn(bitmap_cases()),
                         [](const ::testing::TestParamInfo<BitmapCase>& info) { return std::string(info.param.name); });

// ---- crafted bitmap directories ---------------------------------------------

// One bitmap directory entry, as the specification lays it out.
struct Bme {
    std::optional<uint64_t> table_offset;  // none: a fresh, zeroed table of table_size entries
    uint32_t table_size = 1;
    uint32_t flags = 2;  // auto
    uint8_t type = 1;
    uint8_t granularity_bits = 16;
    std::string name = "bm";
    uint32_t extra_size = 0;
    uint16_t name_size_delta = 0;  // claimed name size minus the bytes written
};

constexpr size_t kCluster = 65536;
constexpr uint64_t kDisk = 16u << 20;

// Appends whole clusters of the image for `bytes`; returns where they start.
size_t grow_to_cluster(std::vector<uint8_t>& b, size_t bytes) {
    const size_t cluster = size_t(1) << get32(b, 20);
    const size_t at = (b.size() + cluster - 1) / cluster * cluster;
    b.resize(at + (bytes + cluster - 1) / cluster * cluster);
    return at;
}

// Replaces the image's bitmap directory with `entries`, written at the end
// of the file, the extension counting `count` of them (default: all).
void put_bitmaps(std::vector<uint8_t>& b, std::vector<Bme> entries, std::optional<uint32_t> count = {}) {
    std::vector<uint8_t> dir;
    for (Bme& e : entries) {
        if (!e.table_offset) e.table_offset = grow_to_cluster(b, size_t(e.table_size) * 8);
        std::vector<uint8_t> d(24, 0);
        set64(d, 0, *e.table_offset);
        set32(d, 8, e.table_size);
        set32(d, 12, e.flags);
        d[16] = e.type;
        d[17] = e.granularity_bits;
        set16(d, 18, uint16_t(e.name.size() + e.name_size_delta));
        set32(d, 20, e.extra_size);
        d.resize(24 + e.extra_size, 0xee);
        d.insert(d.end(), e.name.begin(), e.name.end());
        while (d.size() % 8) d.push_back(0);
        dir.insert(dir.end(), d.begin(), d.end());
    }
    const size_t at = grow_to_cluster(b, dir.size());
    std::copy(dir.begin(), dir.end(), b.begin() + long(at));
    const size_t ext = find_ext(b, kExtBitmaps);
    set32(b, ext + 8, count ? *count : uint32_t(entries.size()));
    set64(b, ext + 16, dir.size());
    set64(b, ext + 24, at);
}

Bme in_use(Bme e) {
    e.flags |= 1;
    return e;
}

Bme named(const std::string& name, uint32_t flags = 2) {
    Bme e;
    e.name = name;
    e.flags = flags;
    return e;
}

struct BitmapDamage {
    const char* name;
    std::function<void(std::vector<uint8_t>&)> apply;
    Status expected;
};

std::vector<BitmapDamage> bitmap_damages() {
    const Status bad = Status::image_invalid;
    const Status ok = formats::kOk;
    auto with = [](std::function<void(Bme&)> change) {
        return [change](std::vector<uint8_t>& b) {
            Bme e;
            change(e);
            put_bitmaps(b, {e});
        };
    };
    return {
        {"crafted_plain", with([](Bme&) {}), ok},
        {"reserved_flag", with([](Bme& e) { e.flags = 4; }), bad},
        {"in_use_and_auto", with([](Bme& e) { e.flags = 3; }), ok},
        {"no_flags", with([](Bme& e) { e.flags = 0; }), ok},
        {"type_2", with([](Bme& e) { e.type = 2; }), bad},
        {"type_0", with([](Bme& e) { e.type = 0; }), bad},
        {"granularity_8", with([](Bme& e) { e.granularity_bits = 8; }), bad},
        {"granularity_9", with([](Bme& e) { e.granularity_bits = 9; e.table_size = 1; }), ok},
        {"granularity_31", with([](Bme& e) { e.granularity_bits = 31; }), ok},
        {"granularity_32", with([](Bme& e) { e.granularity_bits = 32; }), bad},
        {"granularity_32_in_use", with([](Bme& e) { e.granularity_bits = 32; e.flags = 1; }), bad},
        {"extra_data", with([](Bme& e) { e.extra_size = 8; }), bad},
        {"name_empty", with([](Bme& e) { e.name = ""; }), ok},
        {"name_1023", with([](Bme& e) { e.name = std::string(1023, 'x'); }), ok},
        {"name_1024", with([](Bme& e) { e.name = std::string(1024, 'x'); }), bad},
        {"name_with_nul", with([](Bme& e) { e.name = std::string("ab\0cd", 5); }), ok},
        {"name_leading_nul", with([](Bme& e) { e.name = std::string("\0cd", 3); }), ok},
        {"name_not_utf8", with([](Bme& e) { e.name = "\xff\xfe\x80"; }), ok},
        {"table_size_0", with([](Bme& e) { e.table_size = 0; }), bad},
        {"table_size_2", with([](Bme& e) { e.table_size = 2; }), bad},
        {"table_size_2_in_use", with([](Bme& e) { e.table_size = 2; e.flags = 1; }), ok},
        {"table_size_0_in_use", with([](Bme& e) { e.table_size = 0; e.flags = 1; }), bad},
        {"table_offset_0", with([](Bme& e) { e.table_offset = 0; }), bad},
        {"table_offset_0_in_use", with([](Bme& e) { e.table_offset = 0; e.flags = 1; }), bad},
        {"table_unaligned", with([](Bme& e) { e.table_offset = 3 * kCluster + 512; }), bad},
        {"table_past_end", with([](Bme& e) { e.table_offset = 1ull << 40; }), ok},
        {"table_past_block_limit", with([](Bme& e) { e.table_offset = 0x7fffffffc0000000ull; }), bad},
        {"table_past_block_limit_in_use",
         with([](Bme& e) {
             e.table_offset = 0x7fffffffc0000000ull;
             e.flags = 1;
         }),
         ok},
        // 512 MiB of bitmap data at most: 8192 64 KiB clusters.
        {"table_8193_clusters_in_use",
         with([](Bme& e) {
             e.table_offset = 1ull << 40;
             e.table_size = 8193;
             e.flags = 1;
         }),
         bad},
        {"table_8192_clusters_in_use",
         with([](Bme& e) {
             e.table_offset = 1ull << 40;
             e.table_size = 8192;
             e.flags = 1;
         }),
         ok},
        {"table_too_small_for_disk",
         [](auto& b) {
             set64(b, 24, 8ull << 30);
             set32(b, 36, 16);  // L1 entries for 8 GiB
             Bme e;
             e.granularity_bits = 9;
             put_bitmaps(b, {e});
         },
         bad},
        {"disk_0_consistent", [](auto& b) { set64(b, 24, 0); put_bitmaps(b, {Bme{}}); }, bad},
        {"disk_0_in_use", [](auto& b) { set64(b, 24, 0); put_bitmaps(b, {in_use(Bme{})}); }, ok},
        {"disk_unaligned", [](auto& b) { set64(b, 24, kDisk - 100); put_bitmaps(b, {Bme{}}); }, ok},
        // Directory framing.
        {"count_short", [](auto& b) { put_bitmaps(b, {named("a"), named("b")}, 1); }, bad},
        {"count_long", [](auto& b) { put_bitmaps(b, {named("a"), named("b")}, 3); }, bad},
        {"size_cuts_entry",
         [](auto& b) {
             put_bitmaps(b, {named("a"), named("b")});
             const size_t ext = find_ext(b, kExtBitmaps);
             set64(b, ext + 16, get64(b, ext + 16) - 8);
         },
         bad},
        {"size_cuts_header",
         [](auto& b) {
             put_bitmaps(b, {named("a")});
             const size_t ext = find_ext(b, kExtBitmaps);
             set64(b, ext + 16, 16);
         },
         bad},
        {"size_has_slack",
         [](auto& b) {
             put_bitmaps(b, {named("a")});
             const size_t ext = find_ext(b, kExtBitmaps);
             set64(b, ext + 16, get64(b, ext + 16) + 24);
         },
         bad},
        {"size_0",
         [](auto& b) {
             put_bitmaps(b, {named("a")});
             set64(b, find_ext(b, kExtBitmaps) + 16, 0);
         },
         bad},
        {"name_size_runs_past_directory", [](auto& b) { Bme e; e.name_size_delta = 200; put_bitmaps(b, {e}); }, bad},
        {"directory_past_end",
         [](auto& b) {
             put_bitmaps(b, {named("a")});
             set64(b, find_ext(b, kExtBitmaps) + 24, 1ull << 40);
         },
         bad},
        {"directory_past_block_limit",
         [](auto& b) {
             put_bitmaps(b, {named("a")});
             set64(b, find_ext(b, kExtBitmaps) + 24, 0x7fffffffc0000000ull);
         },
         bad},
        // Table entries: a data cluster offset, or all ones without one.
        {"table_entry_all_ones",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 1);
         },
         ok},
        {"table_entry_data",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 5 * kCluster);
         },
         ok},
        {"table_entry_data_far",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 0x00ff000000000000ull);
         },
         ok},
        {"table_entry_reserved_low",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 2);
         },
         bad},
        {"table_entry_reserved_high",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 1ull << 56);
         },
         bad},
        {"table_entry_unaligned",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 5 * kCluster + 512);
         },
         bad},
        {"table_entry_all_ones_with_data",
         [](auto& b) {
             put_bitmaps(b, {Bme{}});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 5 * kCluster + 1);
         },
         bad},
        {"table_entry_bad_in_use",
         [](auto& b) {
             put_bitmaps(b, {in_use(Bme{})});
             set64(b, get64(b, get64(b, find_ext(b, kExtBitmaps) + 24)), 2);
         },
         ok},
        // Only the table's own entries count, though tables may overlap.
        {"bad_entry_after_a_shared_table",
         [](auto& b) {
             Bme a;
             a.table_offset = grow_to_cluster(b, 16);
             set64(b, *a.table_offset + 8, 2);
             Bme c = a;
             c.name = "c";
             Bme d = a;
             d.name = "d";
             d.table_size = 2;
             d.flags = 1;
             put_bitmaps(b, {a, c, d});
         },
         ok},
        {"bad_entry_in_a_shared_table",
         [](auto& b) {
             Bme a;
             a.table_offset = grow_to_cluster(b, 16);
             set64(b, *a.table_offset, 2);
             Bme c = a;
             c.name = "c";
             put_bitmaps(b, {in_use(a), c});
         },
         bad},
        // Names: qemu creates one in-memory bitmap per entry.
        {"names_equal", [](auto& b) { put_bitmaps(b, {named("x"), named("x")}); }, bad},
        {"names_equal_second_in_use", [](auto& b) { put_bitmaps(b, {named("x"), in_use(named("x"))}); }, ok},
        {"names_equal_first_in_use", [](auto& b) { put_bitmaps(b, {in_use(named("x")), named("x")}); }, bad},
        {"names_equal_both_in_use", [](auto& b) { put_bitmaps(b, {in_use(named("x")), in_use(named("x"))}); }, ok},
        {"names_equal_up_to_nul",
         [](auto& b) { put_bitmaps(b, {named(std::string("x\0a", 3)), named(std::string("x\0b", 3))}); }, bad},
        {"names_differ", [](auto& b) { put_bitmaps(b, {named("x"), named("y"), named("xx"), named("")}); }, ok},
        {"names_equal_far_apart",
         [](auto& b) {
             std::vector<Bme> v;
             for (int i = 0; i < 50; ++i) v.push_back(named("n" + std::to_string(i)));
             v.push_back(in_use(named("n7")));
             v.push_back(named("n31"));
             put_bitmaps(b, v);
         },
         bad},
    };
}

const char* kBitmapBase = "$QI create -q -f qcow2 img.qcow2 16M && $QI bitmap --add img.qcow2 bm0";

class BitmapsDamaged : public ::testing::TestWithParam<BitmapDamage> {};

TEST_P(BitmapsDamaged, RefusesWhereQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    const BitmapDamage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBitmapBase));
    const std::string path = dir.file("img.qcow2");
    std::vector<uint8_t> b = read_file(path);
    d.apply(b);
    expect_bytes_like_qemu(b, path, d.expected);
}

INSTANTIATE_TEST_SUITE_P(Directories, BitmapsDamaged, ::testing::ValuesIn(bitmap_damages()),
                         [](const ::testing::TestParamInfo<BitmapDamage>& info) { return std::string(info.param.name); });

// Every byte of two directory entries and of the extension changed in turn.
TEST(Qcow2BitmapsInfo, DirectoryBytesLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBitmapBase + std::string(" && $QI bitmap --add -g 1M --disable img.qcow2 bm1")));
    const std::vector<uint8_t> base = read_file(dir.file("img.qcow2"));
    const size_t ext = find_ext(base, kExtBitmaps);
    const size_t directory = size_t(get64(base, ext + 24));
    std::vector<size_t> offsets;
    for (size_t off = 0; off < 32; ++off) offsets.push_back(ext + off);
    for (size_t off = 0; off < get64(base, ext + 16); ++off) offsets.push_back(directory + off);
    const std::string path = dir.file("flip.qcow2");
    expect_bit_flips_like_qemu(base, path, {offsets});
}

// Cut before, inside and after the directory and the tables.
TEST(Qcow2BitmapsInfo, TruncatedLikeQemu) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBitmapBase + std::string(" && $QIO -c 'write -P 1 0 1M' img.qcow2 >/dev/null && "
                                                          "$QI bitmap --add -g 1M --disable img.qcow2 bm1")));
    const std::vector<uint8_t> full = read_file(dir.file("img.qcow2"));
    const size_t ext = find_ext(full, kExtBitmaps);
    const size_t directory = size_t(get64(full, ext + 24));
    const std::string path = dir.file("cut.qcow2");
    std::vector<size_t> lengths = {ext, ext + 20, directory, directory + 10, directory + 30};
    for (size_t at = 0; at + kCluster <= full.size(); at += kCluster) lengths.push_back(at);
    expect_truncations_like_qemu(full, path, lengths);
}

// An in-use bitmap is not read, but qemu still builds an empty in-memory
// bitmap for it: past 2^41 bits an assertion ends qemu-img.
TEST(Qcow2BitmapsInfo, InUseBitmapOfAHugeDisk) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 -o cluster_size=2M img.qcow2 2E && "
                                "$QI bitmap --add -g 2G img.qcow2 bm"));
    const std::string path = dir.file("img.qcow2");
    const std::vector<uint8_t> base = read_file(path);
    const size_t entry = size_t(get64(base, find_ext(base, kExtBitmaps) + 24));
    struct {
        uint8_t bits;
        Status expected;
    } const cases[] = {{9, Status::image_invalid}, {19, Status::image_invalid}, {31, formats::kOk}};
    for (const auto& c : cases) {
        SCOPED_TRACE("granularity bits " + std::to_string(c.bits));
        std::vector<uint8_t> b = base;
        b[entry + 17] = c.bits;
        set32(b, entry + 12, 3);
        ASSERT_TRUE(write_file(path, b));
        EXPECT_EQ(guest_info(path).status, c.expected);
        expect_like_qemu(path);
    }
    // Such a bitmap whose name an earlier bitmap took is skipped, not built.
    std::vector<uint8_t> b = base;
    const uint64_t table = get64(b, entry);
    Bme first;
    first.table_offset = table;
    first.table_size = get32(b, entry + 8);
    first.granularity_bits = 31;
    Bme second = first;
    second.granularity_bits = 9;
    second.flags = 3;
    put_bitmaps(b, {first, second});
    ASSERT_TRUE(write_file(path, b));
    EXPECT_EQ(guest_info(path).status, formats::kOk);
    expect_like_qemu(path);
}

// The most bitmaps qemu opens, all listed; names of one hash compared
// exactly, and quickly even when all are the same.
TEST(Qcow2BitmapsInfo, ManyBitmaps) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, kBitmapBase));
    const std::string path = dir.file("img.qcow2");
    std::vector<uint8_t> base = read_file(path);
    Bme shared;
    shared.table_offset = grow_to_cluster(base, 8);
    // qemu-img looks each new name up in a list of all before it: with
    // tens of thousands of different names it takes many minutes, so it
    // is asked only where it is quick.
    auto check = [&](const char* what, const std::vector<Bme>& entries, Status expected, bool ask_qemu) {
        SCOPED_TRACE(what);
        std::vector<uint8_t> b = base;
        put_bitmaps(b, entries);
        ASSERT_TRUE(write_file(path, b));
        const auto start = std::chrono::steady_clock::now();
        GuestRun g = guest_info(path);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        EXPECT_EQ(g.status, expected);
        EXPECT_LT(seconds, 5.0);
        if (g.status == formats::kOk) {
            ASSERT_EQ(g.bitmaps.size(), entries.size());
            for (size_t i = 0; i < entries.size(); ++i) ASSERT_EQ(str(g.bitmaps[i].name), entries[i].name) << i;
        }
        if (!ask_qemu) return;
        std::optional<json> q = qemu_info(path);
        EXPECT_EQ(bool(q), expected == formats::kOk);
        if (q && g.status == formats::kOk) expect_same(g, *q);
    };
    std::vector<Bme> distinct(abi::kInfoMaxBitmaps, shared);
    for (uint32_t i = 0; i < abi::kInfoMaxBitmaps; ++i) distinct[i].name = "bitmap-" + std::to_string(i);
    check("65535 names", distinct, formats::kOk, false);
    distinct.resize(3000);
    check("3000 names", distinct, formats::kOk, true);

    std::vector<Bme> same(abi::kInfoMaxBitmaps, in_use(shared));
    for (Bme& e : same) e.name = std::string(1000, 's');
    same[0].flags = 2;
    check("65535 bitmaps of one name, all but the first in use", same, formats::kOk, true);
    same.back().flags = 2;
    check("the last of them consistent", same, Status::image_invalid, true);
}

// Many consistent bitmaps over overlapping tables: their entries are read
// once, not once per table.
TEST(Qcow2BitmapsInfo, OverlappingTablesReadOnce) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, "$QI create -q -f qcow2 -o cluster_size=512 img.qcow2 4G && "
                                "$QI bitmap --add -g 512 img.qcow2 bm0"));
    const std::string path = dir.file("img.qcow2");
    std::vector<uint8_t> b = read_file(path);
    const size_t entry = size_t(get64(b, find_ext(b, kExtBitmaps) + 24));
    const uint32_t table_size = get32(b, entry + 8);  // 4 GiB / 512 bits / 512-byte clusters
    ASSERT_EQ(table_size, 2048u);
    // 16 KiB tables starting one cluster apart: 1 MiB of the file holds them
    // all, 32 MiB of entries in all.
    const size_t start = (b.size() + 511) / 512 * 512;
    b.resize(start + size_t(table_size) * 8 + 2000 * 512);
    std::vector<Bme> entries(2000);
    for (size_t i = 0; i < entries.size(); ++i) {
        entries[i].table_offset = start + i * 512;
        entries[i].table_size = table_size;
        entries[i].granularity_bits = 9;
        entries[i].name = "b" + std::to_string(i);
    }
    put_bitmaps(b, entries);
    ASSERT_TRUE(write_file(path, b));
    FileSource src(path);
    GuestRun g = guest_info(static_cast<formats::ImageSource&>(src));
    EXPECT_EQ(g.status, formats::kOk);
    EXPECT_LT(src.reads, 100u);  // 1 MiB in 64 KiB reads, and the directory
    expect_like_qemu(path);
}

}  // namespace
}  // namespace instar::testing::qcow2
