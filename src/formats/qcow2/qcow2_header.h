// The header cluster as qemu 7.2's qcow2_update_header lays it out: the
// fixed header, the backing-format and feature-name extensions, the end
// marker and the backing file name right after it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/qcow2/qcow2_options.h"

namespace instar::formats::qcow2 {

struct HeaderFields {
    uint64_t l1_size;
    uint64_t l1_offset;
    uint64_t refcount_table_offset;
    uint64_t refcount_table_clusters;
};

// Bytes from offset 0 to the end of the last non-zero byte qemu writes
// there (header, extensions, end marker, backing file name).
size_t header_used_bytes(const CreateParams& p);

// Whether all of that fits into one cluster; qemu fails the creation
// (-ENOSPC) when it does not.
bool header_fits(const CreateParams& p);

// Fills buf[0, header_used_bytes(p)); the caller provides that much.
void render_header(const CreateParams& p, const HeaderFields& f, uint8_t* buf);

}  // namespace instar::formats::qcow2
