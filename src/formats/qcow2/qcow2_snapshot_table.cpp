#include "formats/qcow2/qcow2_snapshot_table.h"

#include "formats/common/endian.h"

namespace instar::formats::qcow2 {

Status SnapshotCursor::next(SnapshotEntry& out, bool& more) {
    more = index_ < h_.nb_snapshots;
    if (!more) return kOk;
    ++index_;
    // Entries start on multiples of 8; the table itself is cluster-aligned,
    // so the offset is never near overflowing here.
    offset_ = (offset_ + 7) & ~uint64_t(7);
    if (!read_allowed(offset_, sizeof fixed_)) return Status::image_invalid;
    if (!r_.read(offset_, fixed_, sizeof fixed_)) return Status::read_failed;
    offset_ += sizeof fixed_;

    const uint32_t extra_size = load_be32(fixed_ + kSnapExtraDataSize);
    const uint32_t id_size = load_be16(fixed_ + kSnapIdSize);
    const uint32_t name_size = load_be16(fixed_ + kSnapNameSize);
    if (extra_size > kMaxSnapshotExtraData) return Status::image_invalid;

    __builtin_memset(extra_, 0, sizeof extra_);
    const size_t known = extra_size < sizeof extra_ ? extra_size : sizeof extra_;
    if (!read_allowed(offset_, known)) return Status::image_invalid;
    if (!r_.read(offset_, extra_, known)) return Status::read_failed;
    offset_ += known;
    // qemu keeps extra data it does not know (and reads it).
    if (extra_size > known && !read_allowed(offset_, extra_size - known)) return Status::image_invalid;
    offset_ += extra_size - known;

    if (!read_allowed(offset_, id_size)) return Status::image_invalid;
    const size_t id_kept = id_size < sizeof id_ ? id_size : sizeof id_;
    if (!r_.read(offset_, id_, id_kept)) return Status::read_failed;
    offset_ += id_size;

    if (!read_allowed(offset_, name_size)) return Status::image_invalid;
    const size_t name_kept = name_size < sizeof name_ ? name_size : sizeof name_;
    if (!r_.read(offset_, name_, name_kept)) return Status::read_failed;
    offset_ += name_size;

    if (offset_ - h_.snapshots_offset > kMaxSnapshotsSize) return Status::image_invalid;
    out = SnapshotEntry{fixed_, extra_, extra_size, id_, id_kept, name_, name_kept};
    return kOk;
}

}  // namespace instar::formats::qcow2
