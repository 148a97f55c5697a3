// Data written into a new vmdk image the way qemu 7.2's vmdk driver writes it
// when `qemu-img convert` fills the image it has just created.
#pragma once

#include "formats/block/image_writer.h"

namespace instar::formats::vmdk {

// FormatDriver::open_writer for vmdk.
Status open_writer(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats::vmdk
