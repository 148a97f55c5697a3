// Recognising VHD images and reading their virtual size the way qemu 7.2's
// vpc driver does when it opens one.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../common/probe.h"

namespace instar::formats {

// qemu's probe: the footer copy at offset 0. A fixed image (footer only at
// the end) is not recognised, just as qemu-img takes it for raw.
bool vpc_detect(const uint8_t* head, size_t len);

// The virtual size qemu-img info reports, with the checks qemu's open makes
// (footer at 0 or at the end, footer checksum, 2040 GiB limit, dynamic
// header and BAT sanity). Anything qemu refuses gives image_invalid.
Status vpc_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
