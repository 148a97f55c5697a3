// `info` for VHD ("vpc") images: what qemu-img info 7.2 reports about one.
#pragma once

#include "abi/ops/info.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats {

// Fills `out` (cleared first) for an image qemu 7.2's vpc driver opens:
// format, virtual size by qemu's CHS / current_size rule, and the block
// size as cluster size unless the footer says the disk is fixed. qemu shows
// no format-specific section, no backing file (a differencing VHD opens as
// a plain dynamic one, its parent ignored) and never a dirty flag for vpc.
// Fixed images, which only `-f vpc` reaches, are handled too. Whatever
// qemu refuses is refused with image_invalid.
Status vpc_read_info(ImageSource& src, Arena& arena, abi::InfoResult& out);

}  // namespace instar::formats
