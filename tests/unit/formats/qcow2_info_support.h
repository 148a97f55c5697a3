// Shared by the qcow2 `info` tests: running the guest's parser natively on
// a file, running `qemu-img info --output=json` on the same file, and
// comparing every field of the one with the other; making images with
// qemu-img and qemu-io; patching their bytes.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "abi/ops/info.h"
#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_info.h"
#include "memory_image.h"
#include "qcow2_test_util.h"

namespace instar::testing::qcow2 {

struct GuestRun {
    formats::Status status = formats::Status::internal;
    std::unique_ptr<abi::InfoResult> info;
    std::vector<abi::InfoSnapshot> snapshots;
    std::vector<abi::InfoBitmap> bitmaps;
    size_t reads = 0;
};

inline GuestRun guest_info(formats::ImageSource& src) {
    GuestRun r;
    r.info = std::make_unique<abi::InfoResult>();
    std::memset(r.info.get(), 0xa5, sizeof(abi::InfoResult));  // nothing may be left unset
    // As much scratch as the most bitmaps need (the guest has more).
    std::vector<uint8_t> mem(8u << 20);
    formats::Arena arena(mem.data(), mem.size());
    CollectedRecords records;
    r.status = formats::qcow2_read_info(src, arena, records, *r.info);
    r.snapshots = records.of<abi::InfoSnapshot>(abi::InfoRecord::snapshot);
    r.bitmaps = records.of<abi::InfoBitmap>(abi::InfoRecord::bitmap);
    return r;
}

inline GuestRun guest_info(const std::string& path) {
    FileSource src(path);
    GuestRun r = guest_info(static_cast<formats::ImageSource&>(src));
    r.reads = src.reads;
    return r;
}

// qemu-img info's JSON, or nothing when it refuses the image (or crashes
// on it). Its warnings (stderr) are not part of the answer.
inline std::optional<nlohmann::json> qemu_info(const std::string& path) {
    QemuJson q = qemu_info_json(path, "qcow2", "", Stderr::discard);
    if (q.status != 0) return std::nullopt;
    if (!q.ok) ADD_FAILURE() << "qemu-img printed no valid JSON:\n" << q.text;
    return q.json;
}

template <uint32_t N>
std::string str(const abi::InfoString<N>& s) {
    EXPECT_LE(s.length, N);
    return std::string(s.bytes, std::min<uint32_t>(s.length, N));
}

// A string as the guest reports it (bytes of the image) against the one
// qemu-img's JSON shows: equal, except that qemu shows bytes that are not
// UTF-8 as U+FFFD (the renderer's tests hold that conversion to qemu's);
// here only the ASCII bytes must agree, in order.
inline bool shown_as(const std::string& raw, const std::string& shown) {
    if (raw == shown) return true;
    auto ascii = [](const std::string& v) {
        std::string out;
        for (char c : v)
            if (static_cast<unsigned char>(c) < 0x80) out += c;
        return out;
    };
    return ascii(raw) == ascii(shown) && raw.size() != ascii(raw).size();
}

// The position (from 1) of qemu's name in the list the guest's enum
// follows, 0 when it is not there.
inline uint32_t position_of(const std::string& name, std::initializer_list<const char*> names) {
    uint32_t i = 1;
    for (const char* n : names) {
        if (name == n) return i;
        ++i;
    }
    return 0;
}

inline uint32_t luks_hash_value(const std::string& name) {
    return position_of(name, {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"});
}

// qemu's "encrypt" member against the guest's InfoQcow2.
inline void expect_same_encryption(const abi::InfoResult& r, const nlohmann::json& d) {
    const abi::InfoQcow2& c = r.qcow2;
    EXPECT_EQ(bool(r.flags & abi::kInfoEncrypted), d.contains("encrypt"));
    if (!d.contains("encrypt")) {
        EXPECT_EQ(c.encrypt_format, uint32_t(abi::Qcow2EncryptFormat::none));
        return;
    }
    const nlohmann::json& e = d["encrypt"];
    if (e.at("format") == "aes") {
        EXPECT_EQ(e, nlohmann::json({{"format", "aes"}}));
        EXPECT_EQ(c.encrypt_format, uint32_t(abi::Qcow2EncryptFormat::aes));
        return;
    }
    ASSERT_EQ(e.at("format"), "luks");
    ASSERT_EQ(c.encrypt_format, uint32_t(abi::Qcow2EncryptFormat::luks));
    static const std::set<std::string> kLuksKeys = {"format",    "cipher-alg",     "cipher-mode",      "ivgen-alg",
                                                    "hash-alg",  "ivgen-hash-alg", "payload-offset", "master-key-iters",
                                                    "uuid",      "slots"};
    for (const auto& [key, value] : e.items()) EXPECT_TRUE(kLuksKeys.count(key)) << "unexpected key " << key;
    const abi::InfoLuks& l = c.luks;
    EXPECT_EQ(l.cipher_alg, position_of(e.at("cipher-alg"), {"aes-128", "aes-192", "aes-256", "cast5-128",
                                                             "serpent-128", "serpent-192", "serpent-256",
                                                             "twofish-128", "twofish-192", "twofish-256"}));
    EXPECT_EQ(l.cipher_mode, position_of(e.at("cipher-mode"), {"ecb", "cbc", "xts", "ctr"}));
    EXPECT_EQ(l.ivgen_alg, position_of(e.at("ivgen-alg"), {"plain", "plain64", "essiv"}));
    EXPECT_EQ(l.ivgen_hash_alg, e.contains("ivgen-hash-alg") ? luks_hash_value(e["ivgen-hash-alg"]) : 0u);
    EXPECT_EQ(l.hash_alg, luks_hash_value(e.at("hash-alg")));
    EXPECT_EQ(l.payload_offset, e.at("payload-offset").get<uint64_t>());
    EXPECT_EQ(l.master_key_iters, e.at("master-key-iters").get<uint64_t>());
    EXPECT_TRUE(shown_as(str(l.uuid), e.at("uuid").get<std::string>())) << str(l.uuid);
    EXPECT_EQ(l.reserved, 0u);
    ASSERT_EQ(e.at("slots").size(), abi::kInfoLuksSlots);
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) {
        SCOPED_TRACE("slot " + std::to_string(i));
        const nlohmann::json& js = e["slots"][i];
        const abi::InfoLuksSlot& s = l.slots[i];
        EXPECT_EQ(bool(s.active), js.at("active").get<bool>());
        EXPECT_LE(s.active, 1u);
        EXPECT_EQ(s.key_offset, js.at("key-offset").get<uint64_t>());
        EXPECT_EQ(s.iters, js.value("iters", uint64_t(0)));
        EXPECT_EQ(s.stripes, js.value("stripes", uint64_t(0)));
        EXPECT_EQ(js.contains("iters"), bool(s.active));
        EXPECT_EQ(js.contains("stripes"), bool(s.active));
        EXPECT_EQ(s.reserved, 0u);
    }
}

// qemu's "bitmaps" member against the guest's records.
inline void expect_same_bitmaps(const GuestRun& g, const nlohmann::json& d) {
    const abi::InfoQcow2& c = g.info->qcow2;
    EXPECT_EQ(bool(c.flags & abi::kQcow2HasBitmaps), d.contains("bitmaps"));
    const nlohmann::json bitmaps = d.value("bitmaps", nlohmann::json::array());
    ASSERT_EQ(c.bitmap_count, bitmaps.size());
    ASSERT_EQ(g.bitmaps.size(), bitmaps.size());
    for (size_t i = 0; i < bitmaps.size(); ++i) {
        SCOPED_TRACE("bitmap " + std::to_string(i));
        const abi::InfoBitmap& b = g.bitmaps[i];
        const nlohmann::json& j = bitmaps[i];
        EXPECT_TRUE(shown_as(str(b.name), j.at("name").get<std::string>())) << str(b.name);
        EXPECT_EQ(b.granularity, j.at("granularity").get<uint64_t>());
        nlohmann::json flags = nlohmann::json::array();
        if (b.flags & abi::kInfoBitmapInUse) flags.push_back("in-use");
        if (b.flags & abi::kInfoBitmapAuto) flags.push_back("auto");
        EXPECT_EQ(flags, j.at("flags"));
        EXPECT_EQ(b.flags & ~(abi::kInfoBitmapInUse | abi::kInfoBitmapAuto), 0u);
    }
}

// Every key qemu-img 7.2 prints for a qcow2 image, and every field of the
// result, one against the other. Unknown keys fail the test, so nothing
// qemu shows goes unnoticed.
inline void expect_same(const GuestRun& g, const nlohmann::json& q) {
    using nlohmann::json;
    const abi::InfoResult& r = *g.info;
    static const std::set<std::string> kTopKeys = {
        "virtual-size",  "filename",         "cluster-size",          "format",         "actual-size",
        "format-specific", "dirty-flag",     "encrypted",             "backing-filename", "full-backing-filename",
        "backing-filename-format", "snapshots"};
    for (const auto& [key, value] : q.items()) EXPECT_TRUE(kTopKeys.count(key)) << "unexpected key " << key;

    EXPECT_EQ(q.at("format"), "qcow2");
    EXPECT_EQ(r.format, uint32_t(abi::Format::qcow2));
    EXPECT_EQ(r.virtual_size, q.at("virtual-size").get<uint64_t>());
    ASSERT_TRUE(r.flags & abi::kInfoHasClusterSize);
    EXPECT_EQ(r.cluster_size, q.at("cluster-size").get<uint64_t>());
    EXPECT_EQ(bool(r.flags & abi::kInfoEncrypted), q.contains("encrypted"));
    if (q.contains("encrypted")) {
        EXPECT_EQ(q["encrypted"], true);
    }
    EXPECT_EQ(bool(r.flags & abi::kInfoDirty), q.at("dirty-flag").get<bool>());
    EXPECT_FALSE(r.flags & (abi::kInfoFormatUnknownAsRaw | abi::kInfoHasPartitionTable));

    EXPECT_EQ(bool(r.flags & abi::kInfoHasBacking), q.contains("backing-filename"));
    if (q.contains("backing-filename")) {
        EXPECT_EQ(str(r.backing_file), q["backing-filename"].get<std::string>());
    }
    EXPECT_EQ(bool(r.flags & abi::kInfoHasBackingFormat), q.contains("backing-filename-format"));
    if (q.contains("backing-filename-format")) {
        EXPECT_EQ(str(r.backing_format), q["backing-filename-format"].get<std::string>());
    }

    const json snapshots = q.value("snapshots", json::array());
    EXPECT_EQ(r.snapshot_count > 0, q.contains("snapshots"));
    ASSERT_EQ(r.snapshot_count, snapshots.size());
    ASSERT_EQ(g.snapshots.size(), snapshots.size());
    for (uint32_t i = 0; i < r.snapshot_count; ++i) {
        const abi::InfoSnapshot& s = g.snapshots[i];
        const json& j = snapshots[i];
        SCOPED_TRACE("snapshot " + std::to_string(i));
        EXPECT_EQ(str(s.id), j.at("id").get<std::string>());
        EXPECT_EQ(str(s.name), j.at("name").get<std::string>());
        EXPECT_EQ(s.vm_state_size, j.at("vm-state-size").get<uint64_t>());
        EXPECT_EQ(s.date_sec, j.at("date-sec").get<uint64_t>());
        EXPECT_EQ(s.date_nsec, j.at("date-nsec").get<uint64_t>());
        EXPECT_EQ(s.vm_clock_nsec, j.at("vm-clock-sec").get<uint64_t>() * 1000000000ull +
                                       j.at("vm-clock-nsec").get<uint64_t>());
        EXPECT_EQ(bool(s.has_icount), j.contains("icount"));
        if (j.contains("icount")) {
            EXPECT_EQ(s.icount, j["icount"].get<uint64_t>());
        }
        if (!s.has_icount) {
            EXPECT_EQ(s.icount, UINT64_MAX);
        }
    }

    const json& fs = q.at("format-specific");
    EXPECT_EQ(fs.at("type"), "qcow2");
    const json& d = fs.at("data");
    static const std::set<std::string> kDataKeys = {"compat",  "compression-type", "lazy-refcounts", "refcount-bits",
                                                    "corrupt", "extended-l2",      "data-file",      "data-file-raw",
                                                    "bitmaps", "encrypt"};
    for (const auto& [key, value] : d.items()) EXPECT_TRUE(kDataKeys.count(key)) << "unexpected key " << key;
    const abi::InfoQcow2& c = r.qcow2;
    EXPECT_EQ(c.version == 3 ? "1.1" : c.version == 2 ? "0.10" : "?", d.at("compat").get<std::string>());
    EXPECT_EQ(c.compression_type == uint32_t(abi::Qcow2Compression::zstd) ? "zstd" : "zlib",
              d.at("compression-type").get<std::string>());
    EXPECT_EQ(c.refcount_bits, d.at("refcount-bits").get<uint32_t>());
    const bool v3 = c.version == 3;
    EXPECT_EQ(v3, d.contains("lazy-refcounts"));
    EXPECT_EQ(v3, d.contains("corrupt"));
    EXPECT_EQ(v3, d.contains("extended-l2"));
    if (v3) {
        EXPECT_EQ(bool(c.flags & abi::kQcow2LazyRefcounts), d.at("lazy-refcounts").get<bool>());
        EXPECT_EQ(bool(c.flags & abi::kQcow2Corrupt), d.at("corrupt").get<bool>());
        EXPECT_EQ(bool(c.flags & abi::kQcow2ExtendedL2), d.at("extended-l2").get<bool>());
    } else {
        EXPECT_EQ(c.flags, 0u);
    }
    EXPECT_EQ(bool(c.flags & abi::kQcow2HasDataFile), d.contains("data-file"));
    EXPECT_EQ(bool(c.flags & abi::kQcow2HasDataFile), d.contains("data-file-raw"));
    if (d.contains("data-file")) {
        EXPECT_EQ(str(c.data_file), d["data-file"].get<std::string>());
    }
    if (d.contains("data-file-raw")) {
        EXPECT_EQ(bool(c.flags & abi::kQcow2DataFileRaw), d["data-file-raw"].get<bool>());
    }
    if (!(c.flags & abi::kQcow2HasDataFile)) {
        EXPECT_FALSE(c.flags & abi::kQcow2DataFileRaw);
        EXPECT_EQ(c.data_file.length, 0u);
    }
    EXPECT_EQ(c.reserved, 0u);
    expect_same_bitmaps(g, d);
    expect_same_encryption(r, d);
    if (c.encrypt_format != uint32_t(abi::Qcow2EncryptFormat::luks)) {
        const abi::InfoLuks zero{};
        EXPECT_EQ(std::memcmp(&c.luks, &zero, sizeof zero), 0) << "LUKS details without LUKS";
    }
}

// Compares the guest's answer with qemu-img's on the file as it is now.
// `unsupported_ok`: the image is one the result cannot describe, so the
// guest refuses it although qemu-img shows it.
inline void expect_like_qemu(const std::string& path, bool unsupported_ok = false) {
    std::optional<nlohmann::json> q = qemu_info(path);
    GuestRun g = guest_info(path);
    if (!q) {
        EXPECT_NE(g.status, formats::kOk) << "qemu-img refuses the image";
        EXPECT_NE(g.status, formats::Status::read_failed);
        return;
    }
    if (unsupported_ok) {
        EXPECT_EQ(g.status, formats::Status::unsupported_feature) << q->dump(4);
        return;
    }
    ASSERT_EQ(g.status, formats::kOk) << "qemu-img shows it:\n" << q->dump(4).substr(0, 3000);
    expect_same(g, *q);
}

inline std::string sh_env() { return "QI=" + shell_quote(qemu_img()) + "; QIO=" + shell_quote(qemu_io()) + "; ulimit -c 0; "; }

// Runs `script` in a fresh directory; the image it makes is img.qcow2.
inline bool make_image(const TempDir& dir, const std::string& script) {
    CommandResult r = run_qemu_command(sh_env() + "cd " + shell_quote(dir.path()) + " && " + script);
    EXPECT_EQ(r.status, 0) << script << "\n" << r.output;
    return r.status == 0;
}

// The image `script` makes (img.qcow2 in `dir`): qemu-img opens it, the
// guest answers `expected`, and where that is kOk the two show the same.
// `g` is the guest's answer, for checks of the caller's own.
inline void expect_made_like_qemu(const TempDir& dir, const std::string& script, formats::Status expected,
                                  GuestRun& g) {
    ASSERT_TRUE(make_image(dir, script));
    const std::string path = dir.file("img.qcow2");
    std::optional<nlohmann::json> q = qemu_info(path);
    ASSERT_TRUE(q) << "qemu-img info refuses its own image";
    g = guest_info(path);
    ASSERT_EQ(g.status, expected) << q->dump(4);
    if (expected == formats::kOk) expect_same(g, *q);
}

// ---- patching bytes --------------------------------------------------------

inline void set16(std::vector<uint8_t>& b, size_t off, uint16_t v) { formats::store_be16(b.data() + off, v); }
inline void set32(std::vector<uint8_t>& b, size_t off, uint32_t v) { formats::store_be32(b.data() + off, v); }
inline void set64(std::vector<uint8_t>& b, size_t off, uint64_t v) { formats::store_be64(b.data() + off, v); }
inline uint16_t get16(const std::vector<uint8_t>& b, size_t off) { return formats::load_be16(b.data() + off); }
inline uint32_t get32(const std::vector<uint8_t>& b, size_t off) { return formats::load_be32(b.data() + off); }
inline uint64_t get64(const std::vector<uint8_t>& b, size_t off) { return formats::load_be64(b.data() + off); }

inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtCrypto = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// Where an extension of qemu's header starts (its type field), found by
// walking the extensions as the specification lays them out.
inline size_t find_ext(const std::vector<uint8_t>& b, uint32_t type) {
    size_t off = get32(b, 4) >= 3 ? get32(b, 100) : 72;
    while (off + 8 <= b.size() && get32(b, off) != 0) {
        if (get32(b, off) == type) return off;
        off += 8 + ((get32(b, off + 4) + 7) & ~7u);
    }
    ADD_FAILURE() << "no extension " << std::hex << type;
    return 0;
}

// One patch of a qemu-made image, and the guest's answer to the result:
// qemu-img opens the image exactly when that answer is kOk.
struct PatchVariant {
    const char* name;
    std::function<void(std::vector<uint8_t>&)> apply;
    formats::Status expected;
};

// The bytes `b`, written to `path`: the guest answers `expected`, qemu-img
// opens them exactly when that is kOk, and where both open them, the two
// show the same.
inline void expect_bytes_like_qemu(const std::vector<uint8_t>& b, const std::string& path, formats::Status expected) {
    ASSERT_TRUE(write_file(path, b));
    std::optional<nlohmann::json> q = qemu_info(path);
    GuestRun g = guest_info(path);
    EXPECT_EQ(g.status, expected);
    EXPECT_EQ(bool(q), expected == formats::kOk) << "qemu-img disagrees";
    if (q && g.status == formats::kOk) expect_same(g, *q);
}

// Each variant applied to `base` and written to `path`: the guest answers
// as expected, qemu-img agrees on opening it, and where it opens, the two
// show the same.
inline void expect_variants_like_qemu(const std::vector<uint8_t>& base, const std::string& path,
                                      const std::vector<PatchVariant>& variants) {
    for (const PatchVariant& v : variants) {
        SCOPED_TRACE(v.name);
        std::vector<uint8_t> b = base;
        v.apply(b);
        expect_bytes_like_qemu(b, path, v.expected);
    }
}

// Bytes of a qemu-made image to change one bit at a time.
struct BitFlips {
    BitFlips() = default;
    BitFlips(std::vector<size_t> offsets_, size_t at_ = 0, const char* what_ = "byte")
        : offsets(std::move(offsets_)), at(at_), what(what_) {}

    std::vector<size_t> offsets;
    size_t at = 0;              // the offsets count from here
    const char* what = "byte";  // for the trace
    // Whether the changed image is one the result cannot describe (see
    // expect_like_qemu); none when empty.
    std::function<bool(const std::vector<uint8_t>&)> undescribable;
    // Changes left out; none when empty.
    std::function<bool(size_t offset, uint8_t mask)> skip;
};

// Each byte of `base` at `flips.offsets` with its lowest, then its highest
// bit flipped, written to `path`: the guest answers as qemu-img does.
inline void expect_bit_flips_like_qemu(const std::vector<uint8_t>& base, const std::string& path,
                                       const BitFlips& flips) {
    for (size_t off : flips.offsets) {
        for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80)}) {
            if (flips.skip && flips.skip(off, mask)) continue;
            std::vector<uint8_t> b = base;
            b[flips.at + off] ^= mask;
            SCOPED_TRACE(std::string(flips.what) + " " + std::to_string(off) + " ^ " + std::to_string(mask));
            ASSERT_TRUE(write_file(path, b));
            expect_like_qemu(path, flips.undescribable && flips.undescribable(b));
        }
    }
}

// `full` cut to each of `lengths` (those not shorter than it left out),
// written to `path`: the guest answers as qemu-img does.
inline void expect_truncations_like_qemu(const std::vector<uint8_t>& full, const std::string& path,
                                         const std::vector<size_t>& lengths, const std::string& what = "") {
    for (size_t len : lengths) {
        if (len >= full.size()) continue;
        SCOPED_TRACE(what + "cut to " + std::to_string(len));
        ASSERT_TRUE(write_file(path, std::vector<uint8_t>(full.begin(), full.begin() + long(len))));
        expect_like_qemu(path);
    }
}

}  // namespace instar::testing::qcow2
