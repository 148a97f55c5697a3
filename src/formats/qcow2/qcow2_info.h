// `info` for qcow2: what `qemu-img info` 7.2 reports about an image,
// read the way its qcow2 driver reads it when it opens the image.
#pragma once

#include "abi/ops/info.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/record_sink.h"
#include "formats/common/status.h"

namespace instar::formats {

// Fills `out` (cleared first) for a qcow2 v2 or v3 image, and sends each
// listed snapshot (abi::InfoRecord::snapshot) and each persistent dirty
// bitmap (abi::InfoRecord::bitmap) to `records`. Refuses with
// image_invalid what qemu refuses to open (or crashes on: a LUKS image
// without its LUKS header), and with unsupported_feature a valid image the
// result cannot describe: a snapshot id longer than abi::kInfoShortMax, a
// data file name longer than abi::kInfoPathMax, an external data file
// extension without its feature bit or the reverse.
//
// Strings are as qemu shows them: cut at the first NUL, snapshot ids at
// 127 bytes and names at 255. The backing format is reported only with a
// backing file, as qemu shows it only then.
Status qcow2_read_info(ImageSource& src, Arena& arena, RecordSink& records, abi::InfoResult& out);

}  // namespace instar::formats
