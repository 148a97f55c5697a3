// `info` for VHDX images: what qemu-img info 7.2 reports about one.
#pragma once

#include "abi/ops/info.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats {

// Fills `out` (cleared first) for an image qemu 7.2's vhdx driver opens
// read-only: format, virtual size, and the block size as cluster size
// (fixed and dynamic alike). qemu shows no format-specific section and
// never a dirty flag for vhdx; differencing images it cannot open, so they
// have no backing file to report. Refusals as vhdx_open's (vhdx_probe.h):
// image_invalid for a damaged image, unsupported_feature for what qemu
// will not open although it may be valid (a log to replay among them).
Status vhdx_read_info(ImageSource& src, Arena& arena, abi::InfoResult& out);

}  // namespace instar::formats
