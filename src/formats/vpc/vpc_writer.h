// Data written into a new VHD ("vpc") image the way qemu 7.2's vpc driver
// writes it when `qemu-img convert` fills the image it has just created.
//
// A fixed image is its disk followed by the footer: data goes in place.
// A dynamic image grows block by block (vpc_co_pwritev, alloc_block): the
// first write into a block gives it the space at the file's end, where the
// footer was; its sector bitmap is all ones, the BAT entry points at it,
// and the footer moves behind it. Unwritten parts of an allocated block
// stay holes that read as zeroes. Writes come in guest order, so the BAT
// fills in order and only the BAT sector being filled is held in memory.
#pragma once

#include "formats/block/image_writer.h"

namespace instar::formats::vpc {

// FormatDriver::open_writer for vpc. No compressed writes (qemu's vpc
// driver has none).
Status open_writer(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats::vpc
