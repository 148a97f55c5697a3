// Every check qemu 7.2's qcow2_do_open makes before an image's data can be
// read: the header (read_header), the header extensions, the backing file
// name, the snapshot table and the persistent bitmaps (the checks `info`
// makes while it reads them). Shared by the probe (`create -b`) and the
// block reader, so both refuse what `info` refuses.
#pragma once

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/qcow2/qcow2_open.h"

namespace instar::formats::qcow2 {

// Fills `out` from the header. image_invalid where qemu's open fails,
// unsupported_feature where read_header says so; what `info` refuses only
// because its result could not show it (a long snapshot id or data file
// name) passes, as qemu opens those images. Scratch comes from `arena` and
// is given back before returning.
Status check_open(ImageSource& src, Arena& arena, Header& out);

}  // namespace instar::formats::qcow2
