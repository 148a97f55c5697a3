// `info` for vmdk: what `qemu-img info` 7.2 reports about a
// monolithicSparse or streamOptimized file, read the way its vmdk driver
// reads it when it opens the file.
#pragma once

#include "../../abi/ops/info.h"
#include "../common/arena.h"
#include "../common/image_io.h"
#include "../common/status.h"

namespace instar::formats {

// Fills `out` (cleared first) for a KDMV sparse file with its descriptor
// embedded: one extent, the file itself. Refusals are those of
// vmdk::open_sparse_file: unsupported_feature for vmdk files whose data
// lives in other files (descriptor files: monolithicFlat, twoGbMaxExtent*,
// vmfs, ...; VMDK3), which the guest cannot read because the host opens no
// file an image names; image_invalid for what qemu refuses to open. Also
// unsupported_feature: a parentFileNameHint longer than abi::kInfoPathMax
// (qemu takes up to 4095 bytes).
//
// What qemu shows, and where each piece comes from:
//  - create type: "streamOptimized" when the header's compression
//    algorithm is deflate, "monolithicSparse" otherwise; the descriptor's
//    createType is not read, nor its extent lines;
//  - cid / parent cid: the descriptor's CID and parentCID, as qemu's
//    sscanf reads them;
//  - backing file: the parentFileNameHint value, bytes as found (an empty
//    one is no backing file); the backing format is then "vmdk", which
//    qemu assumes;
//  - cluster size (image and extent): the grain size;
//  - the extent's format is "" and its file name is left empty: qemu names
//    the extent by the path it opened, which for an embedded extent is the
//    image's own path as the user typed it -- a host fact the renderer
//    supplies, not anything in the file.
Status vmdk_read_info(ImageSource& src, Arena& arena, abi::InfoResult& out);

}  // namespace instar::formats
