// `probe`: what kind of image input device 0 holds, and its virtual size.
// The host asks before `create -b` prints its Formatting line (qemu-img
// opens the backing file there), without parsing a byte itself.
#pragma once

#include <stdint.h>

#include "create.h"

namespace instar::abi {

struct ProbeRequest {
    uint32_t requested_format;  // Format; none = detect from the bytes
    uint32_t reserved;
};
static_assert(sizeof(ProbeRequest) == 8);

struct ProbeResult {
    uint32_t format;  // Format found (never none)
    uint32_t has_cid;
    uint32_t cid;     // vmdk only
    uint32_t reserved;
    uint64_t virtual_size;
};
static_assert(sizeof(ProbeResult) == 24);

}  // namespace instar::abi
