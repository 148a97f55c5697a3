// Recognising vmdk files and reading what `create -b` needs from a vmdk
// backing file: its virtual size and CID.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/probe.h"

namespace instar::formats {

// As qemu-img 7.2 probes: a sparse extent (KDMV, or VMDK3 COWD) by its
// magic, or a text descriptor whose first line that is not a comment or
// blank reads "version=1|2|3". qemu looks at the first 512 bytes only, bytes
// past the end of the file reading as zero; so do we.
bool vmdk_detect(const uint8_t* head, size_t len);

// Virtual size and CID of a monolithicSparse or streamOptimized file (a
// KDMV extent with the descriptor embedded). Descriptor files and VMDK3
// extents, which qemu opens but which need files we do not have, are
// unsupported_feature; anything qemu would refuse to open is image_invalid
// (see vmdk::open_sparse_file, which `info` shares).
Status vmdk_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);

}  // namespace instar::formats
