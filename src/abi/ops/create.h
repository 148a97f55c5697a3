// `create`: the host validates the command line and fills a CreateRequest;
// the guest (src/formats emitters) writes every metadata byte of the new
// image to the output device and answers with a CreateResult.
//
// Values are resolved by the host: every field holds the value to use, never
// "default". Emitters still check every field, since they are also fuzzed
// with arbitrary requests.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/format.h"

namespace instar::abi {


enum class Preallocation : uint32_t { off = 0, metadata = 1, falloc = 2, full = 3 };

enum class Qcow2Compression : uint32_t { zlib = 0, zstd = 1 };

enum class VmdkSubformat : uint32_t {
    monolithic_sparse = 0,
    monolithic_flat = 1,
    two_gb_max_extent_sparse = 2,
    two_gb_max_extent_flat = 3,
    stream_optimized = 4,
};

enum class VmdkAdapter : uint32_t { ide = 0, buslogic = 1, lsilogic = 2, legacy_esx = 3 };

enum class VpcSubformat : uint32_t { dynamic = 0, fixed = 1 };
enum class VhdxSubformat : uint32_t { dynamic = 0, fixed = 1 };


// CreateRequest.flags
inline constexpr uint32_t kCreateHasSize = 1u << 0;          // size known (given, or read from the backing file)
inline constexpr uint32_t kCreateHasBacking = 1u << 1;       // backing_file is set
inline constexpr uint32_t kCreateBackingAttached = 1u << 2;  // backing file is input device 0
inline constexpr uint32_t kCreateLazyRefcounts = 1u << 3;    // qcow2
inline constexpr uint32_t kCreateExtendedL2 = 1u << 4;       // qcow2
inline constexpr uint32_t kCreateCompat6 = 1u << 5;          // vmdk
inline constexpr uint32_t kCreateZeroedGrain = 1u << 6;      // vmdk
inline constexpr uint32_t kCreateForceSize = 1u << 7;        // vpc
inline constexpr uint32_t kCreateBlockStateZero = 1u << 8;   // vhdx

inline constexpr uint32_t kBackingPathMax = 1024;  // bytes, without the NUL
inline constexpr uint32_t kImageNameMax = 255;     // a file name, without the NUL
inline constexpr uint32_t kVmdkVersionStringMax = 63;
inline constexpr uint32_t kEntropyBytes = 64;

struct CreateRequest {
    uint32_t format;  // Format
    uint32_t flags;   // kCreate*
    uint64_t size;    // virtual size in bytes (meaningful with kCreateHasSize)
    uint32_t preallocation;  // Preallocation

    // qcow2
    uint32_t qcow2_version;     // 2 (compat=0.10) or 3 (compat=1.1)
    uint32_t cluster_size;      // bytes, power of two 512..2 MiB
    uint32_t refcount_bits;     // 1, 2, 4, ..., 64
    uint32_t compression_type;  // Qcow2Compression

    // vmdk
    uint32_t vmdk_subformat;  // VmdkSubformat
    uint32_t vmdk_adapter;    // VmdkAdapter
    uint32_t grain_size;      // bytes, power of two 4 KiB..64 KiB

    // vpc
    uint32_t vpc_subformat;  // VpcSubformat
    uint32_t vpc_block_size; // bytes

    // vhdx
    uint32_t vhdx_subformat;  // VhdxSubformat
    uint32_t vhdx_block_size; // bytes; 0 = qemu's choice from the size
    uint64_t vhdx_log_size;   // bytes

    // Random or time-dependent identity, supplied by the host (getrandom, or
    // derived reproducibly for --deterministic). Emitters take every UUID,
    // CID, sequence number and timestamp from here.
    uint8_t entropy[kEntropyBytes];
    uint64_t timestamp;  // seconds since the Unix epoch

    uint32_t backing_format;  // Format
    uint32_t reserved;

    // NUL-terminated strings.
    char backing_file[kBackingPathMax + 1];   // exactly as typed
    char image_name[kImageNameMax + 1];       // base name of the new image (vmdk extent line)
    // "" = not given: qemu's default ("4", "6" with compat6; "2147483647").
    // An explicitly empty value cannot be expressed; the host refuses it.
    char vmdk_hwversion[kVmdkVersionStringMax + 1];
    char vmdk_toolsversion[kVmdkVersionStringMax + 1];
};
static_assert(offsetof(CreateRequest, entropy) == 72);
static_assert(offsetof(CreateRequest, backing_file) == 152);
static_assert(sizeof(CreateRequest) == 152 + 1025 + 256 + 64 + 64 + 7);

struct CreateResult {
    uint64_t virtual_size;            // resolved (CHS-rounded for vpc, inherited from backing)
    uint64_t metadata_bytes_written;  // bytes of metadata the guest wrote
    uint64_t file_size_after;         // final byte length of the image
    uint64_t resolved_unit_size;      // cluster / grain / block size used
};
static_assert(sizeof(CreateResult) == 32);

}  // namespace instar::abi
