// Data written into a new vmdk image the way qemu 7.2's vmdk driver writes
// it when `qemu-img convert` fills the image it has just created
// (vmdk_pwritev). The image is first made by vmdk_emit, exactly as `create`
// makes it: header, descriptor, both grain directories, and their grain
// tables, still all zero. Grains then go at the end of the file in the
// order they are first written (qemu's next_cluster_sector), each one's
// sector into its grain table and the redundant one (vmdk_L2update).
//
// monolithicSparse: a grain is allocated whole on its first write, the
// parts the write leaves out written as zeroes (get_whole_cluster); a later
// write into the same grain goes in place. convert -c is accepted, as qemu
// accepts it, and writes the same plain grains (the driver's compressed
// write is its ordinary one for an uncompressed extent).
//
// streamOptimized: every grain is one zlib stream behind its marker, each
// starting at the sector after the previous one ends. qemu first zeroes a
// whole grain at the new sector, so the file reaches a grain past the last
// grain's start however little it took. qemu 7.2 writes no footer and no
// end-of-stream marker: the header and the tables `create` placed are the
// image's. Writes normally arrive a grain at a time through
// write_compressed (qemu-img convert always compresses into an extent that
// needs it, and the convert op reads a grain that straddles two sources
// from both). Pieces that come through write() are gathered into their
// grain, zeroes between them, and the grain is stored when the writes
// move past it.
//
// Writes come in guest order, so only the current grain table is held
// (2 KiB), written (both copies) when the writes leave it and by finish().
// Memory does not depend on the disk's size: one table, one grain of
// zeroes, the descriptor, and for streamOptimized the compressor with its
// buffers.
//
// On its first write qemu draws a new CID (vmdk_write_cid) and writes the
// whole descriptor area back; so does the writer, the CID from the
// request's entropy (bytes 4..7; create's CID is bytes 0..3).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/block/image_writer.h"
#include "formats/common/arena.h"
#include "formats/common/compression.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/vmdk/vmdk_create_plan.h"
#include "formats/vmdk/vmdk_layout.h"

namespace instar::formats::vmdk {

class Writer final : public ImageWriter {
public:
    // Creates the image through p.sink, then takes its buffers from
    // p.arena. Refuses what `create` refuses for the request.
    Status open(const WriterOpenParams& p);
    // Guest bytes [offset, offset + len): whole sectors inside the disk,
    // never before the end of the previous write.
    Status write(uint64_t offset, const uint8_t* data, uint64_t len) override;
    // One whole grain (the disk's last may be shorter): compressed for
    // streamOptimized, a plain write for monolithicSparse.
    Status write_compressed(uint64_t offset, const uint8_t* data, uint64_t len) override;
    // The grain table still held (and for streamOptimized the grain being
    // gathered), and the file's length.
    Status finish() override;

    uint64_t cluster_size() const override { return grain_bytes_; }
    uint64_t virtual_size() const override { return size_; }
    uint64_t file_size() const override { return file_end_; }

private:
    static constexpr uint64_t kNone = ~uint64_t(0);

    Status check_order(uint64_t offset, uint64_t len);
    Status write_plain(uint64_t offset, const uint8_t* data, uint64_t len);
    Status gather(uint64_t offset, const uint8_t* data, uint64_t len);
    Status flush_gathered();
    Status write_grain_compressed(uint64_t offset, const uint8_t* data, uint64_t len);
    Status allocate(uint64_t& sector);
    Status wrote_grain();
    Status rewrite_cid(const CreatePlan& plan, uint32_t cid, Arena& arena);

    Status select_table(uint64_t grain);
    Status flush_table();
    uint32_t entry(uint64_t grain) const;
    void set_entry(uint64_t grain, uint32_t sector);

    Status put(uint64_t offset, const void* data, uint64_t len);
    Status put_zeroes(uint64_t offset, uint64_t len);
    void extend(uint64_t end) { file_end_ = end > file_end_ ? end : file_end_; }

    SparseLayout layout_{};
    ImageSink* sink_ = nullptr;
    uint64_t size_ = 0;          // virtual bytes
    uint64_t grain_bytes_ = 0;
    bool stream_ = false;
    uint64_t next_sector_ = 0;   // where the next grain goes
    uint64_t file_end_ = 0;
    uint64_t floor_ = 0;         // the end of the previous write

    char* descriptor_ = nullptr;  // as the first write leaves it
    bool cid_written_ = false;
    uint8_t* table_ = nullptr;   // the current grain table, as on disk
    uint64_t table_index_ = kNone;
    uint64_t dirty_from_ = kNone, dirty_to_ = 0;  // its entries changed since read
    uint8_t* zeroes_ = nullptr;  // one grain

    GrainCompressor* compressor_ = nullptr;
    uint8_t* packed_ = nullptr;    // marker, stream, zeroes to the sector's end
    uint8_t* gathered_ = nullptr;  // write(): the grain being put together
    uint64_t gathered_grain_ = kNone;
    uint64_t packed_end_ = 0;      // the end of the last grain stored, sector-aligned
};

// FormatDriver::open_writer for vmdk.
Status open_writer(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats::vmdk
