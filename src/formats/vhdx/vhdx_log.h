// The VHDX log as qemu 7.2's open sees it: it searches the circular log for
// a valid sequence of entries, and a read-only open (qemu-img info) of an
// image with one fails, since the entries would have to be replayed first.
#pragma once

#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats::vhdx {

// Searches the log of `log_length` bytes at `log_offset` (both already
// checked as qemu does: the length a non-zero multiple of 1 MiB) for entries
// carrying `log_guid` (the current header's). kOk: no valid entry, qemu
// opens the image. unsupported_feature: a valid entry, which qemu insists on
// replaying (read-only it refuses the image), or a log so convoluted that
// searching it would take more than a few passes over it (qemu's search can
// go on for a very long time there, or forever). image_invalid: qemu's
// search itself fails (a read beyond its block layer's limit, an entry with
// a valid header but a malformed descriptor).
Status search_log(ImageSource& src, Arena& arena, uint64_t log_offset, uint32_t log_length, const uint8_t* log_guid);

}  // namespace instar::formats::vhdx
