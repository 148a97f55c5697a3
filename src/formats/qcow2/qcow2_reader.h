// The block reader of a qcow2 image (versions 2 and 3): block status from
// the L1 and L2 tables, data from the image file (or its external data
// file, or decompressed), zeroes for zero clusters, the backing file for
// the rest.
#pragma once

#include "formats/block/block_reader.h"

namespace instar::formats {

// Opens with qemu's open checks (qcow2::check_open) and those qemu makes
// when it opens an image for I/O, which `info` skips: an image whose
// data-file-raw bit has no data file is refused (image_invalid). Refused
// with unsupported_feature: encrypted images, and an image that needs an
// external data file when none is given. Compressed clusters (zlib or
// zstd) are decompressed as qemu does (qcow2_compressed.h).
Status qcow2_open_reader(const ReaderOpenParams& p, BlockReader*& out);

}  // namespace instar::formats
