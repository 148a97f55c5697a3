#include "formats/vmdk/vmdk_writer.h"

#include <new>

#include "formats/common/bits.h"
#include "formats/common/emitter.h"
#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_create.h"
#include "formats/vmdk/vmdk_create_plan.h"

namespace instar::formats::vmdk {
namespace {

uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

}  // namespace

Status Writer::open(const WriterOpenParams& p) {
    // convert refuses a backing file for the output before it gets here;
    // without one, create needs no parent CID.
    const EmitInput in{&p.request, p.virtual_size, false, 0};
    CreatePlan plan{};
    Status st = plan_vmdk_create(in, plan);
    if (st != kOk) return st;
    // The emitter's scratch is needed only while it runs.
    const size_t mark = p.arena.used();
    EmitOutput created{};
    st = vmdk_emit(in, p.sink, p.arena, created);
    p.arena.release_to(mark);
    if (st != kOk) return st;

    layout_ = plan.layout;
    sink_ = &p.sink;
    size_ = plan.size_bytes;
    grain_bytes_ = plan.grain_bytes;
    stream_ = plan.stream;
    // vmdk_add_extent: grains start at the file's end, rounded up to a grain.
    file_end_ = created.file_size;
    next_sector_ = round_up(div_round_up(file_end_, kSectorSize), layout_.grain_sectors);

    st = rewrite_cid(plan, load_le32(p.request.entropy + kWriteCidEntropyOffset), p.arena);
    if (st != kOk) return st;

    table_ = static_cast<uint8_t*>(p.arena.alloc(layout_.gt_sectors * kSectorSize));
    zeroes_ = static_cast<uint8_t*>(p.arena.alloc(grain_bytes_));
    if (!table_ || !zeroes_) return Status::scratch_exceeded;
    if (!stream_) return kOk;

    st = make_grain_compressor(p.arena, compressor_);
    if (st != kOk) return st;
    // vmdk_write_extent offers compress() two grains' room: what does not
    // fit there fails the write.
    packed_ = static_cast<uint8_t*>(p.arena.alloc(round_up(kGrainMarkerBytes + 2 * grain_bytes_, kSectorSize)));
    gathered_ = static_cast<uint8_t*>(p.arena.alloc(grain_bytes_, 16, false));
    return packed_ && gathered_ ? kOk : Status::scratch_exceeded;
}

// vmdk_write_cid: on its first write qemu gives the image a new CID and
// writes the whole descriptor area back: the text as `create` left it, with
// the new CID (in %x, as long as it happens to be) and a NUL put over it.
// Where the new text is shorter by two characters or more, the old text's
// last ones stay behind that NUL.
Status Writer::rewrite_cid(const CreatePlan& plan, uint32_t cid, Arena& arena) {
    descriptor_ = static_cast<char*>(arena.alloc(kDescriptorBytes, 16, false));
    if (!descriptor_) return Status::scratch_exceeded;
    size_t old_bytes = 0;
    Status st = render_descriptor(plan, plan.cid, descriptor_, old_bytes);
    if (st != kOk) return st;
    const size_t mark = arena.used();
    auto* text = static_cast<char*>(arena.alloc(kDescriptorBytes, 16, false));
    size_t new_bytes = 0;
    st = text ? render_descriptor(plan, cid, text, new_bytes) : Status::scratch_exceeded;
    // The text and its NUL; the request's bounds keep both texts far
    // shorter than the area.
    if (st == kOk && new_bytes >= kDescriptorBytes) st = Status::internal;
    if (st == kOk) __builtin_memcpy(descriptor_, text, new_bytes + 1);
    arena.release_to(mark);
    return st;
}

Status Writer::put(uint64_t offset, const void* data, uint64_t len) {
    return sink_->write(offset, data, len) ? kOk : Status::write_failed;
}

Status Writer::put_zeroes(uint64_t offset, uint64_t len) {
    while (len) {
        const uint64_t n = min_u64(len, grain_bytes_);
        Status st = put(offset, zeroes_, n);
        if (st != kOk) return st;
        offset += n;
        len -= n;
    }
    return kOk;
}

uint32_t Writer::entry(uint64_t grain) const { return load_le32(table_ + (grain % kGtesPerGt) * kGteBytes); }

void Writer::set_entry(uint64_t grain, uint32_t sector) {
    const uint64_t i = grain % kGtesPerGt;
    store_le32(table_ + i * kGteBytes, sector);
    dirty_from_ = min_u64(dirty_from_, i);
    dirty_to_ = i + 1 > dirty_to_ ? i + 1 : dirty_to_;
}

// qemu writes each new entry into both tables as it allocates the grain;
// here the sectors that changed are written once, when the writes leave
// the table, to the same bytes.
Status Writer::flush_table() {
    if (table_index_ == kNone || dirty_from_ == kNone) return kOk;
    const uint64_t from = dirty_from_ * kGteBytes / kSectorSize * kSectorSize;
    const uint64_t to = round_up(dirty_to_ * kGteBytes, kSectorSize);
    dirty_from_ = kNone;
    dirty_to_ = 0;
    const uint64_t dirs[] = {layout_.gd_offset, layout_.rgd_offset};
    for (uint64_t dir : dirs) {
        const uint64_t at = grain_table_sector(layout_, dir, table_index_) * kSectorSize;
        Status st = put(at + from, table_ + from, to - from);
        if (st != kOk) return st;
    }
    return kOk;
}

// The table of `grain`; writes come in order, so a table once left is
// done, and one not yet reached is still as `create` left it: all zero.
Status Writer::select_table(uint64_t grain) {
    const uint64_t index = grain / kGtesPerGt;
    if (index == table_index_) return kOk;
    if (table_index_ != kNone && index < table_index_) return Status::internal;
    Status st = flush_table();
    if (st != kOk) return st;
    __builtin_memset(table_, 0, layout_.gt_sectors * kSectorSize);
    table_index_ = index;
    return kOk;
}

// get_cluster_offset's allocation: the next grain-sized piece at the end.
// Past sector 2^32 qemu fails the write (-EINVAL): a table entry could not
// hold it.
Status Writer::allocate(uint64_t& sector) {
    if (next_sector_ >= kMaxGrainSector) return Status::size_out_of_range;
    sector = next_sector_;
    next_sector_ += layout_.grain_sectors;
    return kOk;
}

Status Writer::wrote_grain() {
    if (cid_written_) return kOk;
    cid_written_ = true;
    return put(kDescriptorSector * kSectorSize, descriptor_, kDescriptorBytes);
}

Status Writer::check_order(uint64_t offset, uint64_t len) {
    if (offset > size_ || len > size_ - offset || offset < floor_ || offset % kSectorSize || len % kSectorSize)
        return Status::internal;
    floor_ = offset + len;
    return kOk;
}

// monolithicSparse: vmdk_pwritev a grain at a time.
Status Writer::write_plain(uint64_t offset, const uint8_t* data, uint64_t len) {
    while (len) {
        const uint64_t grain = offset / grain_bytes_;
        const uint64_t in_grain = offset % grain_bytes_;
        const uint64_t n = min_u64(len, grain_bytes_ - in_grain);
        Status st = select_table(grain);
        if (st != kOk) return st;
        uint64_t sector = entry(grain);
        if (sector == 0) {
            st = allocate(sector);
            if (st != kOk) return st;
            // get_whole_cluster: without a backing file, zeroes around the
            // data, which also makes the file reach the grain's end.
            const uint64_t at = sector * kSectorSize;
            st = put_zeroes(at, in_grain);
            if (st == kOk) st = put_zeroes(at + in_grain + n, grain_bytes_ - in_grain - n);
            if (st != kOk) return st;
            extend(at + grain_bytes_);
            set_entry(grain, uint32_t(sector));
        }
        st = put(sector * kSectorSize + in_grain, data, n);
        if (st == kOk) st = wrote_grain();
        if (st != kOk) return st;
        offset += n;
        data += n;
        len -= n;
    }
    return kOk;
}

// streamOptimized, one grain: vmdk_pwritev's allocation (a whole grain of
// zeroes at the next sector), then vmdk_write_extent's marker and stream
// over its start; the next grain goes at the sector after the stream.
Status Writer::write_grain_compressed(uint64_t offset, const uint8_t* data, uint64_t len) {
    const uint64_t grain = offset / grain_bytes_;
    Status st = select_table(grain);
    if (st != kOk) return st;
    // qemu: "Could not write to allocated cluster for streamOptimized".
    if (entry(grain) != 0) return Status::internal;
    uint64_t sector = 0;
    st = allocate(sector);
    if (st != kOk) return st;

    Compressed c{};
    st = compressor_->compress(data, len, packed_ + kGrainMarkerBytes, 2 * grain_bytes_, c);
    if (st != kOk) return st;
    if (!c.fits || c.bytes == 0) return Status::internal;  // qemu's -EINVAL; two grains always hold one
    store_le64(packed_ + kMarkerValue, offset / kSectorSize);
    store_le32(packed_ + kMarkerSize, uint32_t(c.bytes));
    const uint64_t used = kGrainMarkerBytes + c.bytes;
    const uint64_t padded = round_up(used, kSectorSize);
    // The rest of the last sector keeps the grain's zeroes.
    __builtin_memset(packed_ + used, 0, padded - used);

    const uint64_t at = sector * kSectorSize;
    st = put(at, packed_, padded);
    if (st != kOk) return st;
    extend(at + grain_bytes_);
    extend(at + used);
    packed_end_ = at + padded;
    next_sector_ = sector + padded / kSectorSize;
    set_entry(grain, uint32_t(sector));
    return wrote_grain();
}

// streamOptimized through write(): pieces of grains, gathered until the
// writes move past the grain. qemu-img convert into this subformat
// compresses, a whole grain at a time, each grain with any data in it; a
// piece here belongs to such a grain, and what the pieces leave out of it
// is zeroes in the sources.
Status Writer::gather(uint64_t offset, const uint8_t* data, uint64_t len) {
    while (len) {
        const uint64_t grain = offset / grain_bytes_;
        const uint64_t in_grain = offset % grain_bytes_;
        const uint64_t n = min_u64(len, grain_bytes_ - in_grain);
        if (grain != gathered_grain_) {
            Status st = flush_gathered();
            if (st != kOk) return st;
            __builtin_memset(gathered_, 0, grain_bytes_);
            gathered_grain_ = grain;
        }
        __builtin_memcpy(gathered_ + in_grain, data, n);
        offset += n;
        data += n;
        len -= n;
    }
    return kOk;
}

Status Writer::flush_gathered() {
    if (gathered_grain_ == kNone) return kOk;
    const uint64_t start = gathered_grain_ * grain_bytes_;
    gathered_grain_ = kNone;
    return write_grain_compressed(start, gathered_, min_u64(grain_bytes_, size_ - start));
}

Status Writer::write(uint64_t offset, const uint8_t* data, uint64_t len) {
    Status st = check_order(offset, len);
    if (st != kOk) return st;
    return stream_ ? gather(offset, data, len) : write_plain(offset, data, len);
}

// vmdk_co_pwritev_compressed: vmdk_co_pwritev, which compresses only into
// a compressed extent.
Status Writer::write_compressed(uint64_t offset, const uint8_t* data, uint64_t len) {
    if (!stream_) return write(offset, data, len);
    if (len == 0 || len > grain_bytes_) return Status::internal;
    // vmdk_write_extent takes whole grains only, the disk's last one may be
    // short. qemu-img reads a grain that straddles two sources from both
    // (convert_co_read); here its two parts come one from each, and are
    // gathered into it.
    if (offset % grain_bytes_ || (len < grain_bytes_ && len != size_ - offset)) return write(offset, data, len);
    Status st = check_order(offset, len);
    if (st == kOk && gathered_grain_ == offset / grain_bytes_) st = Status::internal;
    if (st == kOk) st = flush_gathered();
    if (st != kOk) return st;
    return write_grain_compressed(offset, data, len);
}

Status Writer::finish() {
    Status st = stream_ ? flush_gathered() : kOk;
    if (st == kOk) st = flush_table();
    // What is left of the last grain's zeroes after its stream.
    if (st == kOk && stream_ && packed_end_ && packed_end_ < file_end_)
        st = put_zeroes(packed_end_, file_end_ - packed_end_);
    if (st != kOk) return st;
    // qemu-img convert ends a compressed conversion with an empty write,
    // which rounds the file up to whole sectors (a grain's stream may end
    // past the grain's zeroes). A monolithicSparse file is whole grains.
    file_end_ = round_up(file_end_, kSectorSize);
    return sink_->set_size(file_end_) ? kOk : Status::write_failed;
}

Status open_writer(const WriterOpenParams& p, ImageWriter*& out) {
    void* at = p.arena.alloc(sizeof(Writer), alignof(Writer));
    if (!at) return Status::scratch_exceeded;
    auto* writer = ::new (at) Writer();
    Status st = writer->open(p);
    if (st != kOk) return st;
    out = writer;
    return kOk;
}

}  // namespace instar::formats::vmdk
