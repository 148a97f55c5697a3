// The block reader of a raw image: the file is the disk.
#pragma once

#include "formats/block/block_reader.h"

namespace instar::formats {

// The disk is the file in whole sectors, as qemu counts it: the file is
// data at its own offset, the padding of its last sector zeroes.
// A raw image has no backing file nor data file: refused (invalid_option)
// when given one.
Status raw_open_reader(const ReaderOpenParams& p, BlockReader*& out);

}  // namespace instar::formats
