// Opening the file of a SPARSE, VMFSSPARSE or SESPARSE extent that a
// descriptor file names, the way qemu-img 7.2's vmdk driver does: it reads
// the extent's header and checks it, and from then on knows the extent's
// size, grain and compression. (FLAT and VMFS extents are raw data: qemu
// only needs their file to open, so nothing here reads them.)
#pragma once

#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/vmdk/vmdk_desc_parse.h"

namespace instar::formats::vmdk {

struct OpenedExtent {
    uint64_t sectors;          // the extent's size, from its header (not the descriptor's)
    uint64_t cluster_sectors;  // grain, > 0
    bool compressed;           // a KDMV extent with deflate: qemu then calls the image streamOptimized
};

// `type`: sparse or vmfs_sparse (the file's magic decides between a KDMV
// extent and a VMDK3/COWD one), or se_sparse. `descriptor_length`: the
// sector-rounded length of the descriptor file (see open_kdmv). kOk when
// qemu opens the extent; image_invalid when it refuses; unsupported_feature
// for a KDMV extent that is itself a descriptor in disguise (qemu would
// read more extents from it) and a VMDK3 extent with a grain of 0 sectors
// (qemu shows it with "cluster size: 0"). Sizes are not bounded here: the
// caller bounds their sum.
Status open_extent_file(ImageSource& file, Arena& arena, ExtentType type, uint64_t descriptor_length,
                        OpenedExtent& out);

// Scratch open_extent_file needs at most, per extent.
inline constexpr size_t kExtentOpenScratch = 4096;

}  // namespace instar::formats::vmdk
