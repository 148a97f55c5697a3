// The block reader of a VHD ("vpc") image, as qemu 7.2's vpc driver reads
// one: a fixed disk is the file itself, a dynamic one (and a differencing
// one, which qemu reads as dynamic, its parent ignored) is its BAT's
// blocks, and zeroes where the BAT has none.
#pragma once

#include "formats/block/block_reader.h"

namespace instar::formats {

// Opens with vpc_open's checks (qemu's; image_invalid for whatever qemu
// refuses). The footer's disk type decides the reading, as in qemu: "fixed"
// reads the file at the disk's offsets, even where the file also has a
// dynamic layout (a footer copy at 0); any other type reads through the
// BAT. qemu's vpc driver has no backing file: one given is refused
// (invalid_option), as is a data file.
Status vpc_open_reader(const ReaderOpenParams& p, BlockReader*& out);

}  // namespace instar::formats
