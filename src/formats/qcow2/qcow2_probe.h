// Recognising a qcow2 image and reading what `create -b` needs from it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../common/probe.h"

namespace instar::formats {

// As qemu's probe: the magic and a version of at least 2 (version 1 is
// the older qcow format, which shares the magic).
bool qcow2_detect(const uint8_t* head, size_t len);

// Checks the header the way qemu does before it trusts the image and
// reports the virtual size. Reads the header only.
Status qcow2_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
