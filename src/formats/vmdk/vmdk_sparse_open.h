// Opening a vmdk file the way qemu-img 7.2's vmdk driver does, for the
// one kind of file whose every byte is in the file itself: a KDMV sparse
// extent with its descriptor embedded (monolithicSparse, streamOptimized).
// The probe (`create -b`) and `info` both start here, so both accept and
// refuse exactly the same files.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/image_io.h"
#include "../common/status.h"
#include "vmdk_header.h"

namespace instar::formats::vmdk {

struct OpenedSparse {
    // The header qemu goes by: the footer's copy when the first header
    // says the grain directory is at the end of the stream.
    SparseHeader header;
    uint32_t cid;
    uint32_t parent_cid;
    // parentFileNameHint's value, in arena memory; nullptr when the
    // descriptor has none or an empty one (qemu then has no backing file).
    const char* parent_hint;
    size_t parent_hint_len;  // at most 4095
};

// kOk when qemu opens the file. Otherwise:
//  - unsupported_feature for vmdk files qemu would open but whose data is
//    in other files: a text descriptor (monolithicFlat, twoGbMaxExtent*,
//    vmfs, ... a descriptor-only .vmdk of a sparse disk), a KDMV header of
//    capacity 0 with a descriptor offset (qemu reads that as a descriptor
//    file too), and VMDK3 (COWD) extents. instar never opens files an
//    image names, so it cannot read them; version > 3 headers, which qemu
//    refuses as unsupported, also land here;
//  - image_invalid for anything else qemu refuses to open.
// The descriptor is hostile text: only the three keys qemu reads from an
// embedded descriptor are looked at (CID, parentCID, parentFileNameHint),
// in its fixed 20-sector area; createType and the extent lines of an
// embedded descriptor play no part, as in qemu.
Status open_sparse_file(ImageSource& src, Arena& arena, OpenedSparse& out);

}  // namespace instar::formats::vmdk
