// Recognising VHDX images and reading their virtual size the way qemu 7.2's
// vhdx driver does when it opens one read-only.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../common/probe.h"

namespace instar::formats {

// qemu's probe: the "vhdxfile" signature at offset 0.
bool vhdx_detect(const uint8_t* head, size_t len);

// The virtual size qemu-img info reports, after the checks qemu's open
// makes: header checksums and choice of the current header, log placement,
// region table checksum and overlaps, required metadata, BAT sanity.
// image_invalid where qemu fails with EINVAL, unsupported_feature where it
// fails with ENOTSUP. An image whose current header names a log
// (non-zero log GUID and length) is refused with unsupported_feature
// without searching the log: qemu opens it only if no valid log entry
// exists, and would otherwise insist on replaying it.
Status vhdx_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
