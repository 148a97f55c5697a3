// The snapshot table as qcow2_read_snapshots walks it: entries one after
// another, each with qemu's checks (extra data at most 1 KiB, every part
// readable, the whole table at most QCOW_MAX_SNAPSHOTS_SIZE). `info` lists
// the entries; the reader (convert -l) takes one entry's L1 table.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/status.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_open.h"
#include "formats/qcow2/qcow2_window.h"

namespace instar::formats::qcow2 {

// One entry. The pointers stay valid until the cursor moves on. Of the id
// and name only the first bytes are kept, as many as `info` can show.
struct SnapshotEntry {
    const uint8_t* fixed;  // kSnapshotHeaderBytes: the entry's fixed fields
    const uint8_t* extra;  // the extra data qemu knows, zero-padded
    uint32_t extra_size;   // as the entry says
    const uint8_t* id;
    size_t id_kept;
    const uint8_t* name;
    size_t name_kept;
};

class SnapshotCursor {
public:
    SnapshotCursor(const Header& h, WindowReader& r) : h_(h), r_(r), offset_(h.snapshots_offset) {}

    // The next entry; `more` false (and `out` untouched) after the last.
    // image_invalid where qemu refuses the table.
    Status next(SnapshotEntry& out, bool& more);

private:
    const Header& h_;
    WindowReader& r_;
    uint64_t offset_;
    uint32_t index_ = 0;
    uint8_t fixed_[kSnapshotHeaderBytes];
    uint8_t extra_[kSnapExtraKnownBytes];
    uint8_t id_[kSnapshotIdShownMax + 1];
    uint8_t name_[kSnapshotNameShownMax + 1];
};

}  // namespace instar::formats::qcow2
