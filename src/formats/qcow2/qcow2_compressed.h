// Reading a compressed cluster as qemu 7.2's qcow2_co_preadv_compressed
// does: the bytes its descriptor names (zeroes past the end of the file),
// decompressed (zlib or zstd, as the header says) to exactly one cluster;
// any failure to is EIO, image_invalid here.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/block/decode_scratch.h"
#include "formats/common/arena.h"
#include "formats/common/compression.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/qcow2/qcow2_l2_entry.h"

namespace instar::formats::qcow2 {

class CompressedClusters {
public:
    // Decodes in `shared` (a scratch for clusters this large, with a decoder
    // for `type`; internal otherwise) or, without one, in a scratch of its
    // own made now in `arena`: the decoder, one cluster of compressed input
    // (a descriptor naming more, up to two clusters, is read in pieces) and
    // the cluster it decodes to. out_of_memory when that does not fit.
    Status init(Arena& arena, ClusterCompression type, uint32_t cluster_bits, DecodeScratch* shared);

    // The cluster `c` decodes to (cluster size bytes), valid until the next
    // call or the scratch's next use. The last one decoded is kept: reading
    // a cluster in parts decodes it once.
    Status get(ImageSource& src, const CompressedExtent& c, const uint8_t*& cluster);

private:
    DecodeScratch* scratch_ = nullptr;
    ClusterDecompressor* decoder_ = nullptr;
    uint64_t user_ = 0;  // this reader's name in the scratch
    size_t cluster_bytes_ = 0;
};

}  // namespace instar::formats::qcow2
