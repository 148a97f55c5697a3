// validate_info_result: every field the guest reports is range-checked
// before rendering. Each case starts from a valid result and breaks one
// thing; the valid ones must pass, so each refusal is for that one thing.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "abi/ops/create.h"
#include "abi/ops/info.h"
#include "cli/info_render.h"
#include "image/info_validate.h"
#include "host/error.h"

namespace instar::cli {
namespace {

using namespace ::instar::image;

using abi::Format;

template <uint32_t N>
void set(abi::InfoString<N>& s, const std::string& v) {
    s.length = uint32_t(v.size());
    std::memcpy(s.bytes, v.data(), std::min<size_t>(v.size(), N));
}

abi::InfoResult raw() {
    abi::InfoResult r{};
    r.format = uint32_t(Format::raw);
    r.virtual_size = 1 << 20;
    return r;
}

abi::InfoResult qcow2() {
    abi::InfoResult r{};
    r.format = uint32_t(Format::qcow2);
    r.virtual_size = 1 << 30;
    r.flags = abi::kInfoHasClusterSize;
    r.cluster_size = 65536;
    r.qcow2.version = 3;
    r.qcow2.refcount_bits = 16;
    return r;
}

abi::InfoResult with_luks(abi::InfoResult r, const abi::InfoLuks& l) {
    r.flags |= abi::kInfoEncrypted;
    r.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::luks);
    r.qcow2.luks = l;
    return r;
}

abi::InfoResult vmdk() {
    abi::InfoResult r{};
    r.format = uint32_t(Format::vmdk);
    r.virtual_size = 1 << 30;
    r.flags = abi::kInfoHasClusterSize;
    r.cluster_size = 65536;
    set(r.vmdk.create_type, "monolithicSparse");
    r.vmdk.extent_count = 1;
    return r;
}

abi::InfoResult vpc() {
    abi::InfoResult r{};
    r.format = uint32_t(Format::vpc);
    r.virtual_size = 104865792;
    r.flags = abi::kInfoHasClusterSize;
    r.cluster_size = 2 << 20;
    return r;
}

abi::InfoResult vhdx() {
    abi::InfoResult r{};
    r.format = uint32_t(Format::vhdx);
    r.virtual_size = 1 << 30;
    r.flags = abi::kInfoHasClusterSize;
    r.cluster_size = 32 << 20;
    return r;
}

// What the guest reports for qemu-img's default LUKS header.
abi::InfoLuks luks_info() {
    abi::InfoLuks l{};
    l.cipher_alg = uint32_t(abi::LuksCipherAlg::aes_256);
    l.cipher_mode = uint32_t(abi::LuksCipherMode::xts);
    l.ivgen_alg = uint32_t(abi::LuksIvgenAlg::plain64);
    l.hash_alg = uint32_t(abi::LuksHashAlg::sha256);
    l.master_key_iters = 1000;
    l.payload_offset = 2068480;
    set(l.uuid, "eea7cad6-a94e-47ca-b254-5736046383ac");
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) l.slots[i].key_offset = 4096 + i * 258048;
    l.slots[0].active = 1;
    l.slots[0].iters = 2000;
    l.slots[0].stripes = 4000;
    return l;
}

abi::InfoResult luks() {
    return with_luks(qcow2(), luks_info());
}

struct Case {
    const char* what;
    std::function<abi::InfoResult()> make;
};

abi::InfoResult with(abi::InfoResult r, const std::function<void(abi::InfoResult&)>& change) {
    change(r);
    return r;
}

TEST(InfoValidate, AcceptsValidResults) {
    for (auto make : {raw, qcow2, vmdk, vpc, vhdx}) EXPECT_NO_THROW(validate_info_result(make()));
    EXPECT_NO_THROW(validate_info_result(with(qcow2(), [](auto& r) {
        r.flags |= abi::kInfoHasBacking | abi::kInfoHasBackingFormat | abi::kInfoDirty | abi::kInfoEncrypted;
        set(r.backing_file, std::string(abi::kInfoPathMax, 'b'));
        set(r.backing_format, "qcow2");
        r.snapshot_count = abi::kInfoMaxSnapshots;
        r.qcow2.flags = abi::kQcow2LazyRefcounts | abi::kQcow2Corrupt | abi::kQcow2ExtendedL2 |
                        abi::kQcow2HasDataFile | abi::kQcow2DataFileRaw | abi::kQcow2HasBitmaps;
        r.qcow2.bitmap_count = abi::kInfoMaxBitmaps;
        r.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes);
        set(r.qcow2.data_file, "data.raw");
        r.qcow2.compression_type = uint32_t(abi::Qcow2Compression::zstd);
        r.qcow2.refcount_bits = 64;
        r.cluster_size = 2 << 20;
    })));
    EXPECT_NO_THROW(validate_info_result(with(qcow2(), [](auto& r) {
        r.qcow2.version = 2;
        r.cluster_size = 512;
    })));
    EXPECT_NO_THROW(validate_info_result(with(qcow2(), [](auto& r) {
        r.qcow2.version = 2;
        r.flags |= abi::kInfoEncrypted;
        r.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes);
    })));
    EXPECT_NO_THROW(validate_info_result(luks()));
    // The most a LUKS header can say: ESSIV with its hash, every slot
    // active, offsets at the ends of their 32-bit sector counts.
    EXPECT_NO_THROW(validate_info_result(with(luks(), [](auto& r) {
        abi::InfoLuks& l = r.qcow2.luks;
        l.cipher_alg = uint32_t(abi::LuksCipherAlg::twofish_256);
        l.cipher_mode = uint32_t(abi::LuksCipherMode::ctr);
        l.ivgen_alg = uint32_t(abi::LuksIvgenAlg::essiv);
        l.ivgen_hash_alg = uint32_t(abi::LuksHashAlg::ripemd160);
        l.hash_alg = uint32_t(abi::LuksHashAlg::md5);
        l.master_key_iters = UINT32_MAX;
        l.payload_offset = uint64_t(UINT32_MAX) * 512;
        set(l.uuid, std::string(abi::kInfoLuksUuidMax, 'u'));
        for (auto& s : l.slots) s = {1, UINT32_MAX, 4000, 0, uint64_t(UINT32_MAX) * 512};
    })));
    // An external data file extension with an empty name: qemu shows "".
    EXPECT_NO_THROW(validate_info_result(with(qcow2(), [](auto& r) { r.qcow2.flags = abi::kQcow2HasDataFile; })));
    EXPECT_NO_THROW(validate_info_result(with(vmdk(), [](auto& r) {
        r.vmdk.extent_count = abi::kInfoMaxVmdkExtents;
        r.vmdk.flags = abi::kVmdkMixedExtents;
        r.flags |= abi::kInfoHasBacking | abi::kInfoHasBackingFormat;
        set(r.backing_file, "parent.vmdk");
        set(r.backing_format, "vmdk");
    })));
    EXPECT_NO_THROW(validate_info_result(with(vpc(), [](auto& r) {
        r.flags = 0;  // fixed
        r.cluster_size = 0;
    })));
    EXPECT_NO_THROW(validate_info_result(
        with(raw(), [](auto& r) { r.flags = abi::kInfoFormatUnknownAsRaw | abi::kInfoHasPartitionTable; })));
}

const Case kRefused[] = {
    {"format none", [] { return with(raw(), [](auto& r) { r.format = 0; }); }},
    {"format past vhdx", [] { return with(raw(), [](auto& r) { r.format = 6; }); }},
    {"unknown flag", [] { return with(raw(), [](auto& r) { r.flags = 1u << 9; }); }},
    {"asks for extent files", [] { return with(vmdk(), [](auto& r) { r.flags |= abi::kInfoNeedsExtentFiles; }); }},
    {"reserved", [] { return with(raw(), [](auto& r) { r.reserved = 1; }); }},
    {"virtual size past int64", [] { return with(raw(), [](auto& r) { r.virtual_size = uint64_t(1) << 63; }); }},
    {"raw cluster size",
     [] { return with(raw(), [](auto& r) { r.flags = abi::kInfoHasClusterSize, r.cluster_size = 65536; }); }},
    {"cluster size without flag", [] { return with(raw(), [](auto& r) { r.cluster_size = 65536; }); }},
    {"qcow2 without cluster size",
     [] { return with(qcow2(), [](auto& r) { r.flags = 0, r.cluster_size = 0; }); }},
    {"vhdx without cluster size", [] { return with(vhdx(), [](auto& r) { r.flags = 0, r.cluster_size = 0; }); }},
    {"qcow2 cluster 256", [] { return with(qcow2(), [](auto& r) { r.cluster_size = 256; }); }},
    {"qcow2 cluster 4M", [] { return with(qcow2(), [](auto& r) { r.cluster_size = 4 << 20; }); }},
    {"qcow2 cluster not power of two", [] { return with(qcow2(), [](auto& r) { r.cluster_size = 3 * 65536; }); }},
    {"vmdk cluster not sectors", [] { return with(vmdk(), [](auto& r) { r.cluster_size = 1000; }); }},
    {"vmdk cluster above 1 GiB", [] { return with(vmdk(), [](auto& r) { r.cluster_size = (1u << 30) + 512; }); }},
    {"vmdk cluster zero", [] { return with(vmdk(), [](auto& r) { r.cluster_size = 0; }); }},
    {"vpc block not power of two", [] { return with(vpc(), [](auto& r) { r.cluster_size = 3 << 20; }); }},
    {"vpc block 256", [] { return with(vpc(), [](auto& r) { r.cluster_size = 256; }); }},
    {"vpc block 4G", [] { return with(vpc(), [](auto& r) { r.cluster_size = uint64_t(1) << 32; }); }},
    {"vhdx block 512K", [] { return with(vhdx(), [](auto& r) { r.cluster_size = 512 << 10; }); }},
    {"vhdx block 512M", [] { return with(vhdx(), [](auto& r) { r.cluster_size = 512 << 20; }); }},
    {"encrypted vmdk", [] { return with(vmdk(), [](auto& r) { r.flags |= abi::kInfoEncrypted; }); }},
    {"dirty raw", [] { return with(raw(), [](auto& r) { r.flags |= abi::kInfoDirty; }); }},
    {"unknown-as-raw on qcow2", [] { return with(qcow2(), [](auto& r) { r.flags |= abi::kInfoFormatUnknownAsRaw; }); }},
    {"partition table on vpc", [] { return with(vpc(), [](auto& r) { r.flags |= abi::kInfoHasPartitionTable; }); }},
    // backing file
    {"backing file too long",
     [] {
         return with(qcow2(), [](auto& r) {
             r.flags |= abi::kInfoHasBacking;
             r.backing_file.length = abi::kInfoPathMax + 1;
         });
     }},
    {"backing format too long",
     [] {
         return with(qcow2(), [](auto& r) {
             r.flags |= abi::kInfoHasBacking | abi::kInfoHasBackingFormat;
             set(r.backing_file, "b");
             r.backing_format.length = abi::kInfoShortMax + 1;
         });
     }},
    {"backing flag, empty name", [] { return with(qcow2(), [](auto& r) { r.flags |= abi::kInfoHasBacking; }); }},
    {"backing name without flag", [] { return with(qcow2(), [](auto& r) { set(r.backing_file, "b"); }); }},
    {"backing format without backing",
     [] {
         return with(qcow2(), [](auto& r) {
             r.flags |= abi::kInfoHasBackingFormat;
             set(r.backing_format, "raw");
         });
     }},
    {"backing format flag, empty name",
     [] {
         return with(qcow2(), [](auto& r) {
             r.flags |= abi::kInfoHasBacking | abi::kInfoHasBackingFormat;
             set(r.backing_file, "b");
         });
     }},
    {"backing format name without flag",
     [] {
         return with(qcow2(), [](auto& r) {
             r.flags |= abi::kInfoHasBacking;
             set(r.backing_file, "b");
             set(r.backing_format, "raw");
         });
     }},
    {"backing file on vpc",
     [] {
         return with(vpc(), [](auto& r) {
             r.flags |= abi::kInfoHasBacking;
             set(r.backing_file, "b");
         });
     }},
    // snapshots
    {"too many snapshots",
     [] { return with(qcow2(), [](auto& r) { r.snapshot_count = abi::kInfoMaxSnapshots + 1; }); }},
    {"snapshots on vmdk", [] { return with(vmdk(), [](auto& r) { r.snapshot_count = 1; }); }},
    // qcow2
    {"qcow2 version 1", [] { return with(qcow2(), [](auto& r) { r.qcow2.version = 1; }); }},
    {"qcow2 version 4", [] { return with(qcow2(), [](auto& r) { r.qcow2.version = 4; }); }},
    {"qcow2 unknown flag", [] { return with(qcow2(), [](auto& r) { r.qcow2.flags = 1u << 6; }); }},
    {"compression type 2", [] { return with(qcow2(), [](auto& r) { r.qcow2.compression_type = 2; }); }},
    {"refcount bits 0", [] { return with(qcow2(), [](auto& r) { r.qcow2.refcount_bits = 0; }); }},
    {"refcount bits 3", [] { return with(qcow2(), [](auto& r) { r.qcow2.refcount_bits = 3; }); }},
    {"refcount bits 128", [] { return with(qcow2(), [](auto& r) { r.qcow2.refcount_bits = 128; }); }},
    {"data file name too long",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.flags = abi::kQcow2HasDataFile;
             r.qcow2.data_file.length = abi::kInfoPathMax + 1;
         });
     }},
    {"data file name without data file", [] { return with(qcow2(), [](auto& r) { set(r.qcow2.data_file, "d"); }); }},
    {"data-file-raw without data file",
     [] { return with(qcow2(), [](auto& r) { r.qcow2.flags = abi::kQcow2DataFileRaw; }); }},
    {"bitmaps flag without a count",
     [] { return with(qcow2(), [](auto& r) { r.qcow2.flags = abi::kQcow2HasBitmaps; }); }},
    {"bitmap count without its flag", [] { return with(qcow2(), [](auto& r) { r.qcow2.bitmap_count = 1; }); }},
    {"65536 bitmaps",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.flags = abi::kQcow2HasBitmaps;
             r.qcow2.bitmap_count = abi::kInfoMaxBitmaps + 1;
         });
     }},
    {"v2 with bitmaps",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.version = 2;
             r.qcow2.flags = abi::kQcow2HasBitmaps;
             r.qcow2.bitmap_count = 1;
         });
     }},
    {"qcow2 reserved", [] { return with(qcow2(), [](auto& r) { r.qcow2.reserved = 1; }); }},
    {"encrypted without a format", [] { return with(qcow2(), [](auto& r) { r.flags |= abi::kInfoEncrypted; }); }},
    {"encryption format unencrypted",
     [] { return with(qcow2(), [](auto& r) { r.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes); }); }},
    {"encryption format 3",
     [] {
         return with(qcow2(), [](auto& r) {
             r.flags |= abi::kInfoEncrypted;
             r.qcow2.encrypt_format = 3;
         });
     }},
    {"LUKS details with AES",
     [] { return with(luks(), [](auto& r) { r.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes); }); }},
    {"LUKS details unencrypted", [] { return with(qcow2(), [](auto& r) { r.qcow2.luks = luks_info(); }); }},
    {"LUKS cipher 0", [] { return with(luks(), [](auto& r) { r.qcow2.luks.cipher_alg = 0; }); }},
    {"LUKS cipher 11", [] { return with(luks(), [](auto& r) { r.qcow2.luks.cipher_alg = 11; }); }},
    {"LUKS mode 5", [] { return with(luks(), [](auto& r) { r.qcow2.luks.cipher_mode = 5; }); }},
    {"LUKS ivgen 4", [] { return with(luks(), [](auto& r) { r.qcow2.luks.ivgen_alg = 4; }); }},
    {"LUKS hash 8", [] { return with(luks(), [](auto& r) { r.qcow2.luks.hash_alg = 8; }); }},
    {"LUKS essiv without hash",
     [] { return with(luks(), [](auto& r) { r.qcow2.luks.ivgen_alg = uint32_t(abi::LuksIvgenAlg::essiv); }); }},
    {"LUKS ivgen hash without essiv",
     [] { return with(luks(), [](auto& r) { r.qcow2.luks.ivgen_hash_alg = uint32_t(abi::LuksHashAlg::sha1); }); }},
    {"LUKS essiv hash 8",
     [] {
         return with(luks(), [](auto& r) {
             r.qcow2.luks.ivgen_alg = uint32_t(abi::LuksIvgenAlg::essiv);
             r.qcow2.luks.ivgen_hash_alg = 8;
         });
     }},
    {"LUKS uuid 41 bytes", [] { return with(luks(), [](auto& r) { r.qcow2.luks.uuid.length = 41; }); }},
    {"LUKS reserved", [] { return with(luks(), [](auto& r) { r.qcow2.luks.reserved = 1; }); }},
    {"LUKS master key iterations 0", [] { return with(luks(), [](auto& r) { r.qcow2.luks.master_key_iters = 0; }); }},
    {"LUKS payload in the header", [] { return with(luks(), [](auto& r) { r.qcow2.luks.payload_offset = 3584; }); }},
    {"LUKS payload not sectors", [] { return with(luks(), [](auto& r) { r.qcow2.luks.payload_offset += 1; }); }},
    {"LUKS payload past 32-bit sectors",
     [] { return with(luks(), [](auto& r) { r.qcow2.luks.payload_offset = uint64_t(1) << 41; }); }},
    {"LUKS slot active 2", [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[0].active = 2; }); }},
    {"LUKS slot reserved", [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[3].reserved = 1; }); }},
    {"LUKS slot in the header", [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[3].key_offset = 512; }); }},
    {"LUKS slot not sectors", [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[3].key_offset += 8; }); }},
    {"LUKS active slot 3999 stripes", [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[0].stripes = 3999; }); }},
    {"LUKS active slot no iterations", [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[0].iters = 0; }); }},
    {"LUKS inactive slot with iterations",
     [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[1].iters = 1000; }); }},
    {"LUKS inactive slot with stripes",
     [] { return with(luks(), [](auto& r) { r.qcow2.luks.slots[7].stripes = 4000; }); }},
    {"extended L2 with 8K clusters",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.flags = abi::kQcow2ExtendedL2;
             r.cluster_size = 8192;
         });
     }},
    {"v2 refcount bits 8",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.version = 2;
             r.qcow2.refcount_bits = 8;
         });
     }},
    {"v2 zstd",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.version = 2;
             r.qcow2.compression_type = 1;
         });
     }},
    {"v2 lazy refcounts",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.version = 2;
             r.qcow2.flags = abi::kQcow2LazyRefcounts;
         });
     }},
    {"v2 dirty",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.version = 2;
             r.flags |= abi::kInfoDirty;
         });
     }},
    {"v2 data file name",
     [] {
         return with(qcow2(), [](auto& r) {
             r.qcow2.version = 2;
             set(r.qcow2.data_file, "d");
         });
     }},
    {"qcow2 details on raw", [] { return with(raw(), [](auto& r) { r.qcow2.version = 3; }); }},
    {"qcow2 data file on vhdx", [] { return with(vhdx(), [](auto& r) { set(r.qcow2.data_file, "d"); }); }},
    // vmdk
    {"vmdk details on qcow2", [] { return with(qcow2(), [](auto& r) { r.vmdk.cid = 1; }); }},
    {"vmdk extent on raw", [] { return with(raw(), [](auto& r) { r.vmdk.extent_count = 1; }); }},
    {"vmdk no extents", [] { return with(vmdk(), [](auto& r) { r.vmdk.extent_count = 0; }); }},
    {"vmdk too many extents",
     [] { return with(vmdk(), [](auto& r) { r.vmdk.extent_count = abi::kInfoMaxVmdkExtents + 1; }); }},
    {"vmdk unknown flag", [] { return with(vmdk(), [](auto& r) { r.vmdk.flags = 2; }); }},
    {"vmdk create type too long",
     [] { return with(vmdk(), [](auto& r) { r.vmdk.create_type.length = abi::kInfoShortMax + 1; }); }},
};

TEST(InfoValidate, RefusesEachFieldOutOfRange) {
    for (const Case& c : kRefused) {
        SCOPED_TRACE(c.what);
        abi::InfoResult r = c.make();
        try {
            validate_info_result(r);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            std::string message = e.what();
            EXPECT_EQ(message.find('\n'), std::string::npos);
            EXPECT_FALSE(message.empty());
        }
    }
}

abi::InfoSnapshot snapshot() {
    abi::InfoSnapshot s{};
    s.icount = UINT64_MAX;
    return s;
}

TEST(InfoValidate, SnapshotRecords) {
    abi::InfoResult r = with(qcow2(), [](auto& r) { r.snapshot_count = 2; });
    std::vector<abi::InfoSnapshot> two{snapshot(), snapshot()};
    two[1].has_icount = 1;
    two[1].icount = 5;
    set(two[1].id, std::string(abi::kInfoShortMax, '7'));
    set(two[1].name, std::string(abi::kInfoNameMax, 'n'));
    EXPECT_NO_THROW(validate_info_snapshots(r, two));

    const std::pair<const char*, std::function<void(std::vector<abi::InfoSnapshot>&)>> kRefusedSnapshots[] = {
        {"fewer records than counted", [](auto& v) { v.pop_back(); }},
        {"more records than counted", [](auto& v) { v.push_back(snapshot()); }},
        {"id too long", [](auto& v) { v[0].id.length = abi::kInfoShortMax + 1; }},
        {"name too long", [](auto& v) { v[0].name.length = abi::kInfoNameMax + 1; }},
        {"reserved", [](auto& v) { v[0].reserved = 1; }},
        {"has_icount 2", [](auto& v) { v[0].has_icount = 2; }},
        {"icount without has_icount", [](auto& v) { v[0].icount = 0; }},
        {"has_icount with all ones", [](auto& v) { v[0].has_icount = 1; }},
    };
    for (const auto& [what, change] : kRefusedSnapshots) {
        SCOPED_TRACE(what);
        std::vector<abi::InfoSnapshot> v{snapshot(), snapshot()};
        change(v);
        try {
            validate_info_snapshots(r, v);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        }
    }
}

// ---- vmdk extents -------------------------------------------------------------

abi::InfoVmdkExtent extent(const std::string& format, const std::string& name, uint64_t size,
                           uint64_t cluster = 0, bool compressed = false) {
    abi::InfoVmdkExtent e{};
    e.virtual_size = size;
    set(e.format, format);
    set(e.filename, name);
    if (cluster) {
        e.flags = abi::kVmdkExtentHasClusterSize | (compressed ? abi::kVmdkExtentCompressed : 0u);
        e.cluster_size = cluster;
    }
    return e;
}

struct VmdkImage {
    abi::InfoResult info;
    std::vector<abi::InfoVmdkExtent> extents;
};

// As the guest reports a monolithicSparse file, a twoGbMaxExtentSparse
// descriptor, and a descriptor with extents of every kind.
VmdkImage sparse_image() { return {vmdk(), {extent("", "", 1 << 30, 65536)}}; }

VmdkImage split_image() {
    VmdkImage v{vmdk(), {}};
    set(v.info.vmdk.create_type, "twoGbMaxExtentSparse");
    v.info.virtual_size = 5ull << 30;
    v.info.vmdk.extent_count = 3;
    v.extents = {extent("SPARSE", "t-s001.vmdk", 2ull << 30, 65536), extent("SPARSE", "t-s002.vmdk", 2ull << 30, 65536),
                 extent("SPARSE", "t-s003.vmdk", 1ull << 30, 65536)};
    return v;
}

VmdkImage mixed_image() {
    VmdkImage v{vmdk(), {}};
    set(v.info.vmdk.create_type, "vmfs");
    v.info.flags = 0;
    v.info.cluster_size = 0;
    v.info.vmdk.flags = abi::kVmdkMixedExtents;
    v.extents = {extent("FLAT", "f.raw", 1 << 20), extent("VMFS", "f.raw", 512),
                 extent("SPARSE", "s.vmdk", 512, 512), extent("VMFSSPARSE", "c.vmdk", 1 << 20, 3 * 512),
                 extent("SESPARSE", "se.vmdk", 4096, 4096),
                 extent("SPARSE", std::string(abi::kInfoExtentNameLongest, 'n'), 512, 1u << 30)};
    v.info.virtual_size = 0;
    for (const auto& e : v.extents) v.info.virtual_size += e.virtual_size;
    v.info.vmdk.extent_count = uint32_t(v.extents.size());
    return v;
}

TEST(InfoValidate, VmdkExtents) {
    for (auto make : {sparse_image, split_image, mixed_image}) {
        VmdkImage v = make();
        EXPECT_NO_THROW(validate_info_result(v.info));
        EXPECT_NO_THROW(validate_info_vmdk_extents(v.info, v.extents));
    }
    VmdkImage stream = split_image();
    set(stream.info.vmdk.create_type, "streamOptimized");
    for (auto& e : stream.extents) e.flags |= abi::kVmdkExtentCompressed;
    EXPECT_NO_THROW(validate_info_vmdk_extents(stream.info, stream.extents));
    // Other formats have none.
    EXPECT_NO_THROW(validate_info_vmdk_extents(qcow2(), {}));

    using Change = std::function<void(VmdkImage&)>;
    const std::tuple<const char*, VmdkImage (*)(), Change> kRefusedExtents[] = {
        {"extents on qcow2", sparse_image, [](auto& v) { v.info = qcow2(); }},
        {"fewer records than counted", split_image, [](auto& v) { v.extents.pop_back(); }},
        {"more records than counted", sparse_image, [](auto& v) { v.extents.push_back(v.extents[0]); }},
        {"unknown flag", sparse_image, [](auto& v) { v.extents[0].flags |= 1u << 2; }},
        {"reserved", sparse_image, [](auto& v) { v.extents[0].reserved = 1; }},
        {"file name too long", split_image, [](auto& v) { v.extents[0].filename.length = abi::kInfoExtentNameMax + 1; }},
        {"file name of 512 bytes", split_image,
         [](auto& v) { set(v.extents[0].filename, std::string(abi::kInfoExtentNameMax, 'n')); }},
        {"file name with a quote", split_image, [](auto& v) { set(v.extents[0].filename, "a\"b"); }},
        {"file name with a NUL", split_image, [](auto& v) { set(v.extents[0].filename, std::string("a\0b", 3)); }},
        {"file name with a newline", split_image, [](auto& v) { set(v.extents[0].filename, "a\nb"); }},
        {"format too long", sparse_image, [](auto& v) { v.extents[0].format.length = abi::kInfoShortMax + 1; }},
        {"format unknown", split_image, [](auto& v) { set(v.extents[0].format, "sparse"); }},
        {"format ZERO", split_image, [](auto& v) { set(v.extents[0].format, "ZERO"); }},
        {"size not sectors", sparse_image, [](auto& v) { v.extents[0].virtual_size = 1000; }},
        {"size past int64", sparse_image, [](auto& v) { v.extents[0].virtual_size = uint64_t(1) << 63; }},
        {"sizes add past int64", split_image,
         [](auto& v) {
             for (auto& e : v.extents) e.virtual_size = uint64_t(1) << 62;
         }},
        {"sizes do not add up", split_image, [](auto& v) { v.extents[2].virtual_size = 512; }},
        {"grain 1 GiB + 512", sparse_image,
         [](auto& v) {
             v.extents[0].cluster_size = (1u << 30) + 512;
             v.info.cluster_size = (1u << 30) + 512;
         }},
        {"grain without its flag", split_image, [](auto& v) { v.extents[0].flags = 0; }},
        {"compressed without grains", mixed_image, [](auto& v) { v.extents[0].flags = abi::kVmdkExtentCompressed; }},
        {"flat extent with grains", mixed_image, [](auto& v) { v.extents[0] = extent("FLAT", "f", 1 << 20, 512); }},
        {"sparse extent without grains", mixed_image, [](auto& v) { v.extents[2] = extent("SPARSE", "s", 512); }},
        {"seSparse grain not 4 KiB", mixed_image, [](auto& v) { v.extents[4].cluster_size = 8192; }},
        {"seSparse compressed", mixed_image,
         [](auto& v) { v.extents[4].flags |= abi::kVmdkExtentCompressed; }},
        {"descriptor extent without a file", split_image, [](auto& v) { set(v.extents[0].filename, ""); }},
        {"file without an extent type", sparse_image, [](auto& v) { set(v.extents[0].filename, "x.vmdk"); }},
        {"the image's own extent among others", split_image,
         [](auto& v) { v.extents[0] = extent("", "", 2ull << 30, 65536); }},
        {"cluster size missing", split_image, [](auto& v) { v.info.flags &= ~abi::kInfoHasClusterSize; }},
        {"cluster size not the extents'", split_image, [](auto& v) { v.info.cluster_size = 4096; }},
        {"cluster size on mixed extents", mixed_image,
         [](auto& v) {
             v.info.flags |= abi::kInfoHasClusterSize;
             v.info.cluster_size = 512;
         }},
        {"mixed flag on one kind", split_image, [](auto& v) { v.info.vmdk.flags = abi::kVmdkMixedExtents; }},
        {"no mixed flag on mixed extents", mixed_image, [](auto& v) { v.info.vmdk.flags = 0; }},
        {"grains differ without the flag", split_image, [](auto& v) { v.extents[1].cluster_size = 4096; }},
        {"stream without compression", split_image, [](auto& v) { set(v.info.vmdk.create_type, "streamOptimized"); }},
        {"compression without stream", split_image,
         [](auto& v) {
             for (auto& e : v.extents) e.flags |= abi::kVmdkExtentCompressed;
         }},
        {"descriptor type on a sparse image", sparse_image,
         [](auto& v) { set(v.info.vmdk.create_type, "twoGbMaxExtentSparse"); }},
        {"sparse type on a descriptor", split_image, [](auto& v) { set(v.info.vmdk.create_type, "monolithicSparse"); }},
        {"unknown create type", split_image, [](auto& v) { set(v.info.vmdk.create_type, "custom"); }},
    };
    for (const auto& [what, make, change] : kRefusedExtents) {
        SCOPED_TRACE(what);
        VmdkImage v = make();
        change(v);
        try {
            validate_info_vmdk_extents(v.info, v.extents);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        }
    }
}

abi::InfoResult asking_for(uint32_t count) {
    abi::InfoResult r{};
    r.format = uint32_t(Format::vmdk);
    r.flags = abi::kInfoNeedsExtentFiles;
    r.vmdk.extent_count = count;
    return r;
}

std::vector<abi::InfoVmdkExtentFile> files(const std::vector<std::string>& names) {
    std::vector<abi::InfoVmdkExtentFile> out(names.size());
    for (size_t i = 0; i < names.size(); ++i) set(out[i].name, names[i]);
    return out;
}

TEST(InfoValidate, VmdkExtentFileRequests) {
    const std::vector<std::string> names = {"t-s001.vmdk", "/abs/x", "../up", std::string(511, 'n'), "a b:c\\\t"};
    EXPECT_EQ(validate_vmdk_extent_files(asking_for(5), files(names)), names);
    std::vector<std::string> most(abi::kInfoMaxVmdkExtents, "x");
    EXPECT_EQ(validate_vmdk_extent_files(asking_for(abi::kInfoMaxVmdkExtents), files(most)).size(),
              abi::kInfoMaxVmdkExtents);

    // Beyond the limit: a message that says so, naming the count.
    try {
        validate_vmdk_extent_files(asking_for(abi::kInfoMaxVmdkExtents + 1), {});
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(std::to_string(abi::kInfoMaxVmdkExtents + 1) + " extent files"),
                  std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find(std::to_string(abi::kInfoMaxVmdkExtents)), std::string::npos);
    }

    const std::tuple<const char*, abi::InfoResult, std::vector<std::string>> kRefusedRequests[] = {
        {"no files", asking_for(0), {}},
        {"fewer names than counted", asking_for(2), {"a"}},
        {"more names than counted", asking_for(1), {"a", "b"}},
        {"names beyond the limit", asking_for(abi::kInfoMaxVmdkExtents + 1), {"a"}},
        {"empty name", asking_for(1), {""}},
        {"name of 512 bytes", asking_for(1), {std::string(512, 'n')}},
        {"name with a quote", asking_for(1), {"a\"b"}},
        {"name with a carriage return", asking_for(1), {"a\rb"}},
        {"name with a NUL", asking_for(1), {std::string("a\0b", 3)}},
        {"not vmdk", with(asking_for(1), [](auto& r) { r.format = uint32_t(Format::qcow2); }), {"a"}},
        {"other flags", with(asking_for(1), [](auto& r) { r.flags |= abi::kInfoHasClusterSize; }), {"a"}},
        {"other details", with(asking_for(1), [](auto& r) { r.vmdk.cid = 1; }), {"a"}},
        {"a backing file", with(asking_for(1), [](auto& r) { set(r.backing_file, "b"); }), {"a"}},
    };
    for (const auto& [what, info, request] : kRefusedRequests) {
        SCOPED_TRACE(what);
        EXPECT_THROW(validate_vmdk_extent_files(info, files(request)), Error);
    }
}

TEST(InfoValidate, VmdkExtentsAreTheFilesAttached) {
    VmdkImage v = split_image();
    EXPECT_NO_THROW(validate_vmdk_extent_names(v.extents, {"t-s001.vmdk", "t-s002.vmdk", "t-s003.vmdk"}));
    EXPECT_THROW(validate_vmdk_extent_names(v.extents, {"t-s001.vmdk", "t-s003.vmdk", "t-s002.vmdk"}), Error);
    EXPECT_THROW(validate_vmdk_extent_names(v.extents, {"t-s001.vmdk", "t-s002.vmdk"}), Error);
    // A record's name length is the guest's: longer than its field, it is
    // refused before a byte is read by it (found by fuzz_info_validate).
    v.extents[1].filename.length = UINT32_MAX;
    EXPECT_THROW(validate_vmdk_extent_names(v.extents, {"t-s001.vmdk", "t-s002.vmdk", "t-s003.vmdk"}), Error);
}

Qcow2Encryption luks_details() {
    Qcow2Encryption e;
    e.format = Qcow2Encryption::Format::luks;
    e.cipher_alg = "aes-256";
    e.cipher_mode = "xts";
    e.ivgen_alg = "plain64";
    e.hash_alg = "sha256";
    e.payload_offset = 2068480;
    e.master_key_iters = 1000;
    e.uuid = "eea7cad6-a94e-47ca-b254-5736046383ac";
    for (int i = 0; i < 8; ++i) e.slots.push_back({i == 0, i == 0 ? 1000u : 0u, i == 0 ? 4000u : 0u, 4096u * (i + 1)});
    return e;
}

TEST(InfoValidate, Qcow2Encryption) {
    EXPECT_NO_THROW(validate_qcow2_encryption(Qcow2Encryption{}));
    EXPECT_NO_THROW(validate_qcow2_encryption(luks_details()));
    auto refused = [](const char* what, const std::function<void(Qcow2Encryption&)>& change) {
        SCOPED_TRACE(what);
        Qcow2Encryption e = luks_details();
        change(e);
        EXPECT_THROW(validate_qcow2_encryption(e), Error);
    };
    refused("cipher", [](auto& e) { e.cipher_alg = "aes-512"; });
    refused("cipher LUKS headers cannot name", [](auto& e) { e.cipher_alg = "des"; });
    refused("mode", [](auto& e) { e.cipher_mode = "gcm"; });
    refused("ivgen", [](auto& e) { e.ivgen_alg = "benbi"; });
    refused("hash", [](auto& e) { e.hash_alg = "whirlpool"; });
    refused("ivgen hash", [](auto& e) { e.ivgen_hash_alg = "sha3"; });
    refused("uuid", [](auto& e) { e.uuid = std::string(41, 'u'); });
    refused("7 slots", [](auto& e) { e.slots.pop_back(); });
    refused("iters", [](auto& e) { e.master_key_iters = uint64_t(1) << 32; });
    refused("inactive slot with stripes", [](auto& e) { e.slots[1].stripes = 4000; });
    refused("payload offset", [](auto& e) { e.payload_offset = uint64_t(1) << 63; });
    refused("key offset", [](auto& e) { e.slots[0].key_offset = uint64_t(1) << 63; });
    Qcow2Encryption aes;
    aes.cipher_alg = "aes-256";
    EXPECT_THROW(validate_qcow2_encryption(aes), Error);
}

abi::InfoBitmap bitmap(uint32_t flags, uint32_t granularity, const std::string& name) {
    abi::InfoBitmap b{};
    b.flags = flags;
    b.granularity = granularity;
    set(b.name, name);
    return b;
}

TEST(InfoValidate, BitmapRecords) {
    abi::InfoResult r = with(qcow2(), [](auto& r) {
        r.qcow2.flags = abi::kQcow2HasBitmaps;
        r.qcow2.bitmap_count = 3;
    });
    const std::vector<abi::InfoBitmap> three{bitmap(0, 512, ""),
                                             bitmap(abi::kInfoBitmapInUse | abi::kInfoBitmapAuto, 1u << 31,
                                                    std::string(abi::kInfoBitmapNameMax, 'n')),
                                             bitmap(abi::kInfoBitmapAuto, 65536, "bm0")};
    EXPECT_NO_THROW(validate_info_bitmaps(r, three));
    EXPECT_NO_THROW(validate_info_bitmaps(qcow2(), {}));
    EXPECT_NO_THROW(validate_info_bitmaps(vmdk(), {}));

    const std::pair<const char*, std::function<void(std::vector<abi::InfoBitmap>&)>> kRefusedBitmaps[] = {
        {"fewer records than counted", [](auto& v) { v.pop_back(); }},
        {"more records than counted", [](auto& v) { v.push_back(bitmap(0, 512, "x")); }},
        {"unknown flag", [](auto& v) { v[0].flags = 1u << 2; }},
        {"granularity 256", [](auto& v) { v[0].granularity = 256; }},
        {"granularity 0", [](auto& v) { v[0].granularity = 0; }},
        {"granularity not a power of two", [](auto& v) { v[0].granularity = 3 * 512; }},
        {"name too long", [](auto& v) { v[0].name.length = abi::kInfoBitmapNameMax + 1; }},
    };
    for (const auto& [what, change] : kRefusedBitmaps) {
        SCOPED_TRACE(what);
        std::vector<abi::InfoBitmap> v = three;
        change(v);
        try {
            validate_info_bitmaps(r, v);
            ADD_FAILURE() << "accepted";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        }
    }
    // Records where the result counts none.
    EXPECT_THROW(validate_info_bitmaps(vmdk(), three), Error);
    EXPECT_THROW(validate_info_bitmaps(qcow2(), {three[0]}), Error);
}

// The names shown under "encrypt:" are qemu's, for every value a LUKS
// header can give.
TEST(InfoValidate, EncryptionNames) {
    EXPECT_FALSE(qcow2_encryption_of(qcow2()));
    EXPECT_FALSE(qcow2_encryption_of(vmdk()));
    auto aes = qcow2_encryption_of(with(qcow2(), [](auto& r) {
        r.flags |= abi::kInfoEncrypted;
        r.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes);
    }));
    ASSERT_TRUE(aes);
    EXPECT_EQ(aes->format, Qcow2Encryption::Format::aes);
    EXPECT_NO_THROW(validate_qcow2_encryption(*aes));

    const char* const kCiphers[] = {"aes-128",     "aes-192",     "aes-256",     "cast5-128",   "serpent-128",
                                    "serpent-192", "serpent-256", "twofish-128", "twofish-192", "twofish-256"};
    const char* const kModes[] = {"ecb", "cbc", "xts", "ctr"};
    const char* const kIvgens[] = {"plain", "plain64", "essiv"};
    const char* const kHashes[] = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"};
    for (uint32_t i = 0; i < 10; ++i) {
        abi::InfoLuks l = luks_info();
        l.cipher_alg = i + 1;
        l.cipher_mode = i % 4 + 1;
        l.ivgen_alg = i % 3 + 1;
        l.ivgen_hash_alg = l.ivgen_alg == uint32_t(abi::LuksIvgenAlg::essiv) ? 7 - i % 7 : 0;
        l.hash_alg = i % 7 + 1;
        auto e = qcow2_encryption_of(with_luks(qcow2(), l));
        ASSERT_TRUE(e);
        EXPECT_EQ(e->format, Qcow2Encryption::Format::luks);
        EXPECT_EQ(e->cipher_alg, kCiphers[i]);
        EXPECT_EQ(e->cipher_mode, kModes[i % 4]);
        EXPECT_EQ(e->ivgen_alg, kIvgens[i % 3]);
        EXPECT_EQ(e->hash_alg, kHashes[i % 7]);
        if (l.ivgen_hash_alg) {
            ASSERT_TRUE(e->ivgen_hash_alg);
            EXPECT_EQ(*e->ivgen_hash_alg, kHashes[6 - i % 7]);
        } else {
            EXPECT_FALSE(e->ivgen_hash_alg);
        }
        EXPECT_NO_THROW(validate_qcow2_encryption(*e));
    }
    auto e = qcow2_encryption_of(luks());
    ASSERT_TRUE(e);
    EXPECT_EQ(e->uuid, "eea7cad6-a94e-47ca-b254-5736046383ac");
    EXPECT_EQ(e->payload_offset, 2068480u);
    EXPECT_EQ(e->master_key_iters, 1000u);
    ASSERT_EQ(e->slots.size(), 8u);
    EXPECT_TRUE(e->slots[0].active);
    EXPECT_EQ(e->slots[0].iters, 2000u);
    EXPECT_EQ(e->slots[0].stripes, 4000u);
    EXPECT_EQ(e->slots[7].key_offset, 4096u + 7 * 258048);
    EXPECT_FALSE(e->slots[7].active);
    // A value qemu has no name for is refused, not shown.
    EXPECT_THROW(qcow2_encryption_of(with(luks(), [](auto& r) { r.qcow2.luks.hash_alg = 0; })), Error);
}

}  // namespace
}  // namespace instar::cli
