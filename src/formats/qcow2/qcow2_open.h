// The qcow2 header as qemu 7.2's qcow2_do_open reads it, with every check
// it makes on the header's own fields before it follows the extensions,
// the backing file name and the snapshot table. Shared by the probe
// (`create -b`) and `info`, so both refuse the same damaged images.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats::qcow2 {

struct Header {
    uint32_t version;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint64_t size;  // as stored; qemu counts whole sectors of it
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    // Version 3 fields; for version 2 what qemu assumes (all features
    // clear, 16-bit refcounts, a 72-byte header).
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;
};

// Whether qemu's block layer accepts a read of [offset, offset+bytes)
// (bdrv_check_request: nothing may reach past BDRV_MAX_LENGTH). Bytes
// past the end of the file read as zeroes.
bool read_allowed(uint64_t offset, uint64_t bytes);

// Reads the first 112 bytes only. A file shorter than that is read as if
// padded with zeroes, as qemu reads it. image_invalid where qemu's open
// fails with EINVAL/EIO/EFBIG, unsupported_feature where it fails with
// ENOTSUP (a newer version, unknown incompatible features, an unknown
// compression type).
Status read_header(ImageSource& src, Header& out);

// Where the header extensions end: the backing file name, or the end of
// the first cluster.
inline uint64_t extensions_end(const Header& h) {
    return h.backing_file_offset != 0 ? h.backing_file_offset : h.cluster_size;
}

}  // namespace instar::formats::qcow2
