// The block reader of a single-file sparse vmdk (monolithicSparse, and
// streamOptimized with its deflated grains), as qemu 7.2's vmdk driver
// reads one: the grain directory and grain tables say where each grain
// is; a grain table entry of 0 is unallocated, 1 (with the zeroed-grain
// flag) zeroes; block status answers one grain at a time, as qemu's does.
#pragma once

#include "formats/block/block_reader.h"

namespace instar::formats {

// Opens with open_sparse_file's checks (qemu's; image_invalid for what
// qemu refuses). With a parent (`backing`), unallocated grains read the
// parent's bytes, once the parent is a vmdk whose CID is this image's
// parentCID (qemu's vmdk_is_cid_valid; the read fails otherwise, as
// qemu's does). Not yet read here (unsupported_feature): a descriptor
// file with its extents (monolithicFlat, twoGbMaxExtent*, vmfs), and
// compressed grains over 2 MiB. A data file is refused (invalid_option).
Status vmdk_open_reader(const ReaderOpenParams& p, BlockReader*& out);

}  // namespace instar::formats
