// Data written into a new vhdx image the way qemu 7.2's vhdx driver writes it
// when `qemu-img convert` fills the image it has just created.
#pragma once

#include "formats/block/image_writer.h"

namespace instar::formats::vhdx {

// FormatDriver::open_writer for vhdx.
Status open_writer(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats::vhdx
