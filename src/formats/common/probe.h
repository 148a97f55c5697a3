// What `create -b` needs to know about a backing file, read inside the
// guest: its virtual size (used when no SIZE is given) and, for vmdk, its
// CID (recorded as the child's parentCID).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats {

struct BasicImageInfo {
    uint64_t virtual_size;
    bool has_cid;  // vmdk only
    uint32_t cid;
};

// Each format provides:
//   bool FMT_detect(const uint8_t* head, size_t len);   // head = first bytes of the file (>= 512 when the file has them)
//   Status FMT_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out);
// read_basic refuses anything malformed with image_invalid; it never trusts
// a length or offset from the file without checking it against src.size().
inline constexpr size_t kProbeHeadBytes = 4096;

}  // namespace instar::formats
