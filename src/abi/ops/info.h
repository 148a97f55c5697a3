// `info`: what the guest learned about input device 0, as typed fields.
// The host renders them exactly as `qemu-img info` 7.2 would; everything
// here is checked (ranges, string lengths) before use, and strings are
// escaped when printed. disk size / actual-size come from the host's stat,
// never from here.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../memory_map.h"
#include "create.h"

namespace instar::abi {

// InfoRequest.flags
inline constexpr uint32_t kInfoUnsafeQuirks = 1u << 0;  // unknown bytes are raw, as qemu-img (not instar's default)

struct InfoRequest {
    uint32_t requested_format;  // Format; none = detect from the bytes
    uint32_t flags;
};
static_assert(sizeof(InfoRequest) == 8);

// Bytes as found in the image, not NUL-terminated; length <= capacity.
template <uint32_t N>
struct InfoString {
    uint32_t length;
    char bytes[N];
};

inline constexpr uint32_t kInfoPathMax = 1024;  // backing and data file names
inline constexpr uint32_t kInfoNameMax = 256;   // snapshot names
inline constexpr uint32_t kInfoShortMax = 32;   // backing format, snapshot id, create type, extent format

// InfoResult.flags
inline constexpr uint32_t kInfoHasClusterSize = 1u << 0;
inline constexpr uint32_t kInfoEncrypted = 1u << 1;
inline constexpr uint32_t kInfoDirty = 1u << 2;             // "dirty-flag" in JSON
inline constexpr uint32_t kInfoHasBacking = 1u << 3;
inline constexpr uint32_t kInfoHasBackingFormat = 1u << 4;
inline constexpr uint32_t kInfoFormatUnknownAsRaw = 1u << 5;  // raw because nothing matched (qemu's fallback)
inline constexpr uint32_t kInfoHasPartitionTable = 1u << 6;   // raw with an MBR or GPT
// A vmdk descriptor file whose extents live in other files: the answer is
// only the InfoRecord::vmdk_extent_file list (vmdk.extent_count names), and
// the host runs the guest again with those files attached (see InfoVmdk).
inline constexpr uint32_t kInfoNeedsExtentFiles = 1u << 7;

// InfoQcow2.flags
inline constexpr uint32_t kQcow2LazyRefcounts = 1u << 0;
inline constexpr uint32_t kQcow2Corrupt = 1u << 1;
inline constexpr uint32_t kQcow2ExtendedL2 = 1u << 2;
inline constexpr uint32_t kQcow2HasDataFile = 1u << 3;
inline constexpr uint32_t kQcow2DataFileRaw = 1u << 4;
inline constexpr uint32_t kQcow2HasBitmaps = 1u << 5;  // persistent dirty bitmaps: bitmap_count records

// What qemu shows under "encrypt:" of an encrypted qcow2 (InfoQcow2.encrypt_format).
enum class Qcow2EncryptFormat : uint32_t { none = 0, aes = 1, luks = 2 };

// The LUKS header's algorithms as qemu names them (QCryptoCipherAlgorithm,
// QCryptoCipherMode, QCryptoIVGenAlgorithm, QCryptoHashAlgorithm): only the
// values qemu 7.2 can read from a LUKS header. 0 is never a valid value
// (ivgen_hash_alg: none).
enum class LuksCipherAlg : uint32_t {
    aes_128 = 1, aes_192, aes_256, cast5_128,
    serpent_128, serpent_192, serpent_256,
    twofish_128, twofish_192, twofish_256,
};
enum class LuksCipherMode : uint32_t { ecb = 1, cbc, xts, ctr };
enum class LuksIvgenAlg : uint32_t { plain = 1, plain64, essiv };
enum class LuksHashAlg : uint32_t { md5 = 1, sha1, sha224, sha256, sha384, sha512, ripemd160 };

inline constexpr uint32_t kInfoLuksSlots = 8;
inline constexpr uint32_t kInfoLuksUuidMax = 40;  // the header's uuid field

struct InfoLuksSlot {
    uint32_t active;   // 0 or 1
    uint32_t iters;    // active slots only (else 0)
    uint32_t stripes;  // active slots only (else 0)
    uint32_t reserved;
    uint64_t key_offset;  // bytes
};

// What qemu-img shows of a LUKS header (QCryptoBlockInfoLUKS).
struct InfoLuks {
    uint32_t cipher_alg;      // LuksCipherAlg
    uint32_t cipher_mode;     // LuksCipherMode
    uint32_t ivgen_alg;       // LuksIvgenAlg
    uint32_t ivgen_hash_alg;  // LuksHashAlg with essiv, else 0 (qemu shows it only then)
    uint32_t hash_alg;        // LuksHashAlg
    uint32_t master_key_iters;
    uint64_t payload_offset;  // bytes
    InfoString<kInfoLuksUuidMax> uuid;  // up to the first NUL
    uint32_t reserved;
    InfoLuksSlot slots[kInfoLuksSlots];
};

struct InfoQcow2 {
    uint32_t version;           // 2 (compat 0.10) or 3 (compat 1.1)
    uint32_t compression_type;  // Qcow2Compression
    uint32_t refcount_bits;
    uint32_t flags;             // kQcow2*
    InfoString<kInfoPathMax> data_file;
    uint32_t bitmap_count;    // InfoRecord::bitmap records sent (with kQcow2HasBitmaps)
    uint32_t encrypt_format;  // Qcow2EncryptFormat; none unless InfoResult says encrypted
    uint32_t reserved;
    InfoLuks luks;            // encrypt_format == luks
};

// Lists come as records (abi::RecordsMessage) before the InfoResult.
enum class InfoRecord : uint32_t {
    snapshot = 1,          // InfoSnapshot, InfoResult::snapshot_count of them
    vmdk_extent = 2,       // InfoVmdkExtent, InfoVmdk::extent_count of them
    bitmap = 3,            // InfoBitmap, InfoQcow2::bitmap_count of them
    vmdk_extent_file = 4,  // InfoVmdkExtentFile, with kInfoNeedsExtentFiles
};

// qemu's own limit on a qcow2 snapshot table (QCOW_MAX_SNAPSHOTS).
inline constexpr uint32_t kInfoMaxSnapshots = 65536;
struct InfoSnapshot {
    InfoString<kInfoShortMax> id;
    InfoString<kInfoNameMax> name;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;  // UINT64_MAX when the snapshot has none (qemu prints "--"? see renderer)
    uint32_t has_icount;
    uint32_t reserved;
};

// qemu's limits on a qcow2 bitmap directory (QCOW2_MAX_BITMAPS,
// BME_MAX_NAME_SIZE).
inline constexpr uint32_t kInfoMaxBitmaps = 65535;
inline constexpr uint32_t kInfoBitmapNameMax = 1023;
// InfoBitmap.flags, as qemu lists them ("in-use", "auto").
inline constexpr uint32_t kInfoBitmapInUse = 1u << 0;
inline constexpr uint32_t kInfoBitmapAuto = 1u << 1;
struct InfoBitmap {
    uint32_t flags;        // kInfoBitmap*
    uint32_t granularity;  // bytes: a power of two, 512 to 2 GiB
    InfoString<kInfoBitmapNameMax> name;  // up to the first NUL
};

// InfoVmdkExtent.flags
inline constexpr uint32_t kVmdkExtentCompressed = 1u << 0;
inline constexpr uint32_t kVmdkExtentHasClusterSize = 1u << 1;

// InfoVmdk.flags
// Extents of different kinds (flat and sparse, or grains or compression
// that differ): qemu's get_info fails, so it shows no cluster size and no
// "dirty-flag".
inline constexpr uint32_t kVmdkMixedExtents = 1u << 0;

// A descriptor's extent file name as qemu reads it (sscanf "%511[^\n\r\"]"):
// 1 to 511 bytes, none of them NUL, CR, LF or '"'.
inline constexpr uint32_t kInfoExtentNameMax = 512;
inline constexpr uint32_t kInfoExtentNameLongest = kInfoExtentNameMax - 1;

// InfoVmdkExtent::format of a descriptor's extent, qemu's names for the
// types it opens: flat extents are raw data, the others have a header
// qemu reads (and a grain).
inline constexpr const char* kVmdkFlatExtentTypes[] = {"FLAT", "VMFS"};
inline constexpr const char* kVmdkSparseExtentTypes[] = {"SPARSE", "VMFSSPARSE", "SESPARSE"};
// InfoVmdk::create_type of a descriptor file: the createType values qemu
// opens one with ("streamOptimized" instead when an extent is compressed).
inline constexpr const char* kVmdkDescriptorFileTypes[] = {"monolithicFlat",       "vmfs",
                                                           "vmfsSparse",           "seSparse",
                                                           "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"};

// Extents of one vmdk image: one per device the host can attach besides
// the descriptor itself. A descriptor naming more is refused (docs/info.md).
inline constexpr uint32_t kInfoMaxVmdkExtents = kMaxInputDevices - 1;

struct InfoVmdkExtent {
    uint64_t virtual_size;
    uint64_t cluster_size;
    uint32_t flags;
    uint32_t reserved;
    InfoString<kInfoExtentNameMax> filename;  // as the descriptor names it; empty for the image itself
    InfoString<kInfoShortMax> format;         // qemu's "format" field ("" for the image itself, "FLAT", ...)
};

// First run on a descriptor file: the files its extents live in, in the
// descriptor's order. The host opens each (beneath the allowlist, relative
// to the descriptor's directory) and runs the guest again with the
// descriptor as device 0 and file i as device i + 1.
struct InfoVmdkExtentFile {
    InfoString<kInfoExtentNameMax> name;
};

struct InfoVmdk {
    uint32_t cid;
    uint32_t parent_cid;
    InfoString<kInfoShortMax> create_type;
    uint32_t extent_count;  // InfoRecord::vmdk_extent records (or, with kInfoNeedsExtentFiles, file names)
    uint32_t flags;         // kVmdk*
};

struct InfoResult {
    uint32_t format;  // Format (raw, qcow2, vmdk, vpc, vhdx)
    uint32_t flags;   // kInfo*
    uint64_t virtual_size;
    uint64_t cluster_size;  // with kInfoHasClusterSize
    InfoString<kInfoPathMax> backing_file;
    InfoString<kInfoShortMax> backing_format;
    uint32_t snapshot_count;  // qcow2: InfoRecord::snapshot records sent
    uint32_t reserved;
    InfoQcow2 qcow2;  // format == qcow2
    InfoVmdk vmdk;    // format == vmdk
};
static_assert(sizeof(InfoResult) <= 65536, "must fit a ResultMessage payload");

}  // namespace instar::abi

namespace instar::abi {
static_assert(sizeof(InfoString<kInfoPathMax>) == 4 + kInfoPathMax);
static_assert(sizeof(InfoSnapshot) == 336);
static_assert(offsetof(InfoSnapshot, vm_state_size) == 296);
static_assert(sizeof(InfoLuksSlot) == 24);
static_assert(offsetof(InfoLuks, uuid) == 32);
static_assert(offsetof(InfoLuks, slots) == 80);
static_assert(sizeof(InfoLuks) == 272);
static_assert(offsetof(InfoQcow2, bitmap_count) == 1044);
static_assert(offsetof(InfoQcow2, luks) == 1056);
static_assert(sizeof(InfoQcow2) == 1328);
static_assert(sizeof(InfoBitmap) == 1036);
static_assert(sizeof(InfoVmdkExtent) == 576);
static_assert(sizeof(InfoVmdkExtentFile) == 516);
static_assert(sizeof(InfoVmdk) == 52);
static_assert(offsetof(InfoResult, backing_file) == 24);
static_assert(offsetof(InfoResult, qcow2) == 1096);
static_assert(offsetof(InfoResult, vmdk) == 2424);
static_assert(sizeof(InfoResult) == 2480);
}  // namespace instar::abi
