// Persistent dirty bitmaps of a qcow2 image as `qemu-img info` 7.2 lists
// them, after every check qemu makes when it loads them while opening the
// image (block/qcow2-bitmap.c): the directory, each entry, each
// bitmap's table, duplicate names, and the in-memory bitmap qemu builds.
#pragma once

#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/record_sink.h"
#include "formats/common/status.h"

namespace instar::formats::qcow2 {

// What the bitmaps header extension says (already checked as qemu checks
// the extension: count 1..65535, directory cluster-aligned and at most
// 1024 bytes per bitmap).
struct BitmapDirectory {
    uint32_t count;
    uint64_t size;
    uint64_t offset;
};

// Sends one abi::InfoRecord::bitmap record per directory entry, in
// directory order, and refuses with image_invalid whatever makes qemu fail
// to open the image: a directory that is empty, unreadable, has more or
// fewer entries than counted or entries that do not fit it; an entry with
// extra data, reserved flags, another type, a granularity outside 512 B to
// 2 GiB, a name over 1023 bytes, no or an unaligned table, a table too
// large or too small for the disk (`disk_bytes`, the virtual size qemu
// sees), a table entry with reserved bits or a misplaced data cluster; a
// name used twice (except by an in-use bitmap after the first); an in-use
// bitmap that qemu's in-memory bitmap cannot cover. (unsupported_feature
// for more than 16 different names of one 64-bit SipHash, which no image
// made with less than astronomical effort has.)
Status read_bitmaps_info(ImageSource& src, Arena& arena, const BitmapDirectory& dir, uint64_t cluster_size,
                         uint64_t disk_bytes, RecordSink& records);

}  // namespace instar::formats::qcow2
