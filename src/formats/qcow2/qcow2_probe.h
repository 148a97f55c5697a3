// Recognising a qcow2 image and reading what `create -b` needs from it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/probe.h"

namespace instar::formats {

// As qemu's probe: the magic and a version of at least 2 (version 1 is
// the older qcow format, which shares the magic).
bool qcow2_detect(const uint8_t* head, size_t len);

// Checks the image the way qemu's open does (header, header extensions,
// snapshot table: qcow2_read_info's checks) and reports the virtual size.
// Data tables (L1, L2, refcounts) are not read.
Status qcow2_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
