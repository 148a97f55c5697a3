// The LUKS header of a LUKS-encrypted qcow2 image, read as qemu 7.2 reads
// it when it opens the image without a key (qemu-img info): the header
// must pass every check qemu makes before it would look for a key, and
// what it reports is what `qemu-img info` shows under "encrypt:".
#pragma once

#include <stdint.h>

#include "abi/ops/info.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats::qcow2 {

// The LUKS1 header lies at [offset, offset + length) of the file, as the
// qcow2 full-disk-encryption header extension says (offset already checked
// to be cluster-aligned). Fills `out` (cleared first); image_invalid for
// anything qemu refuses: a region too short for the header or beyond the
// block layer's reach, a wrong magic or version, unterminated names,
// algorithms or key sizes qemu does not know, key slots that are corrupt
// or overlap the header, the payload or each other.
Status read_luks_info(ImageSource& src, uint64_t offset, uint64_t length, abi::InfoLuks& out);

}  // namespace instar::formats::qcow2
