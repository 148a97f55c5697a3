// Opening a vmdk file the way qemu-img 7.2's vmdk driver does, for the
// one kind of file whose every byte is in the file itself: a KDMV sparse
// extent with its descriptor embedded (monolithicSparse, streamOptimized).
// The probe (`create -b`) and `info` both start here, so both accept and
// refuse exactly the same files. The pieces are shared with descriptor
// files (vmdk_extent_open.h), whose SPARSE extents are KDMV files too.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/vmdk/vmdk_header.h"

namespace instar::formats::vmdk {

// The three keys qemu reads from a descriptor once the extents are open.
struct DescriptorKeys {
    uint32_t cid;
    uint32_t parent_cid;
    // parentFileNameHint's value, in arena memory; nullptr when the
    // descriptor has none or an empty one (qemu then has no backing file).
    const char* parent_hint;
    size_t parent_hint_len;  // at most 4095
};

struct OpenedSparse {
    // The header qemu goes by: the footer's copy when the first header
    // says the grain directory is at the end of the stream.
    SparseHeader header;
    DescriptorKeys keys;
};

// kOk when qemu opens the file. Otherwise:
//  - unsupported_feature for vmdk files qemu would open but which are not
//    a sparse file with an embedded descriptor: a text descriptor
//    (monolithicFlat, twoGbMaxExtent*, vmfs, ...: vmdk_read_info reads
//    those), a KDMV header of capacity 0 with a descriptor offset (qemu
//    reads that as a descriptor file in disguise), and VMDK3 (COWD) files.
//    Version > 3 headers, which qemu refuses as unsupported, also land here;
//  - image_invalid for anything else qemu refuses to open.
// The descriptor is hostile text: only the three keys qemu reads from an
// embedded descriptor are looked at (CID, parentCID, parentFileNameHint),
// in its fixed 20-sector area; createType and the extent lines of an
// embedded descriptor play no part, as in qemu.
Status open_sparse_file(ImageSource& src, Arena& arena, OpenedSparse& out);

// open_sparse_file for a caller that has read the first sector (`first`,
// zero-padded) and seen its KDMV magic.
Status open_sparse_file_after_magic(ImageSource& src, Arena& arena, const uint8_t* first, OpenedSparse& out);

// The header of a KDMV file whose first sector is `first` (magic checked
// by the caller), and qemu's checks on it. `footer_base` is where qemu
// looks for a stream footer: the last 1536 bytes before it. It is the
// sector-rounded length of the file qemu opened as the image: the sparse
// file itself, or the descriptor naming it as an extent (qemu reads an
// extent's footer at the descriptor's length). The capacity is not bounded
// here: for a descriptor, only the sum of its extents is.
Status open_kdmv(ImageSource& src, Arena& arena, const uint8_t* first, uint64_t footer_base, SparseHeader& out);

// CID, parentCID and parentFileNameHint from the descriptor text at byte
// `offset` (1 sector into a sparse file, 0 in a descriptor file), read as
// qemu reads them: a 20-sector window, bytes past the file reading as zero.
Status read_descriptor_keys(ImageSource& src, Arena& arena, uint64_t offset, DescriptorKeys& out);

// Reads [offset, offset+len) without asking the source for anything past
// its end; those bytes read as zero, as they do for qemu.
bool read_in_file(ImageSource& src, uint64_t offset, uint8_t* buf, size_t len);

}  // namespace instar::formats::vmdk
