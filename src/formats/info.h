// Everything `info` learns about an image, for any format: the one place
// that maps a format to its info reader, and instar's rule for bytes that
// match no format.
#pragma once

#include "abi/ops/info.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/record_sink.h"
#include "formats/common/status.h"
#include "formats/detect.h"
#include "formats/vmdk/vmdk_info.h"

namespace instar::formats {

// requested == none: detect. Bytes that match no format are raw only with
// a partition table, or with `unsafe_quirks` (qemu's behaviour); otherwise
// Status::image_format_unknown. A file within a sector of 2^63 bytes is
// image_invalid, as qemu opens none (qemu_can_open). Lists (abi::InfoRecord) go to `records`.
// `vmdk_extent_files`: the files a vmdk descriptor's extents live in, once
// the host has attached them (see vmdk_read_info).
Status read_image_info(ImageSource& src, Arena& arena, abi::Format requested, bool unsafe_quirks,
                       VmdkExtentFiles& vmdk_extent_files, RecordSink& records, abi::InfoResult& out);

}  // namespace instar::formats
