// Turns a CreateRequest into everything the vmdk emitter writes, checking
// each field it uses and refusing what qemu-img 7.2 refuses.
#pragma once

#include <stdint.h>

#include "formats/common/emitter.h"
#include "formats/common/status.h"
#include "formats/vmdk/vmdk_layout.h"

namespace instar::formats::vmdk {

struct CreatePlan {
    uint64_t size_bytes;  // virtual size, rounded up to whole sectors
    uint32_t grain_bytes;
    SparseLayout layout;
    bool stream;          // streamOptimized
    bool zeroed_grain;
    const char* create_type;
    const char* adapter_type;
    uint32_t heads;
    const char* hw_version;
    const char* tools_version;
    const char* image_name;
    const char* parent_hint;  // nullptr without a backing file
    uint32_t cid;
    uint32_t parent_cid;
};

// The CID is entropy bytes 0..3, little-endian: qemu draws it from
// g_random_int(), so every 32-bit value is possible, 0xffffffff included.
inline constexpr uint32_t kCidEntropyOffset = 0;
// The CID qemu's vmdk driver draws again on the first write into an image
// it has opened (vmdk_write_cid): convert's writes into the image it made.
inline constexpr uint32_t kWriteCidEntropyOffset = 4;

// parentCID of an image without a parent.
inline constexpr uint32_t kNoParentCid = 0xffffffff;

Status plan_vmdk_create(const EmitInput& in, CreatePlan& plan);

}  // namespace instar::formats::vmdk
