// Turns a CreateRequest into the qcow2 parameters of one image, refusing
// every value or combination qemu-img 7.2 refuses.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ops/create.h"
#include "formats/common/status.h"

namespace instar::formats::qcow2 {

struct CreateParams {
    uint64_t size;  // virtual size, rounded up to whole sectors as qemu does
    uint32_t version;
    uint32_t cluster_bits;
    uint32_t refcount_order;
    bool extended_l2;
    bool lazy_refcounts;
    bool zstd;
    abi::Preallocation prealloc;
    const char* backing_file;  // nullptr: no backing file
    size_t backing_file_len;
    const char* backing_format;  // nullptr: no backing format extension
    size_t backing_format_len;
};

Status parse_create_request(const abi::CreateRequest& req, uint64_t virtual_size, CreateParams& out);

}  // namespace instar::formats::qcow2
