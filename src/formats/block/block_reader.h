// The read side of the block layer: an image's guest-visible content, as
// convert, map, compare and check see it. Each format opens a reader
// (FormatDriver::open_reader); a reader answers two questions about its own
// layer of a backing chain: what a range is (block_status: allocated data,
// zeroes, or nothing, falling through to the backing file) and what it holds
// (read). Status comes from the format's tables without touching the data,
// so unallocated space is skipped without being read.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/block/decode_scratch.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats {

enum class BlockKind : uint8_t {
    data,         // allocated in this image: read it
    zero,         // reads as zeroes from this image (qcow2 zero clusters, a raw file's last sector's padding)
    unallocated,  // not in this image: the backing file's bytes, else zeroes
};

struct BlockStatus {
    uint64_t bytes;  // length of the run from the offset asked about
    BlockKind kind;
    // The run lies in the file at host_offset on (in the external data
    // file for a qcow2 image with one), contiguous there: for data that is
    // not compressed, and for what has room in the file without being data
    // (qcow2 zero or unallocated subclusters of a reserved cluster, a raw
    // file's padding), wherever `qemu-img map` shows an offset. vhdx is the
    // exception qemu makes: qemu 7.2's vhdx driver has no block status, so
    // its whole disk is data without an offset. A run is all with or all
    // without a host offset.
    bool has_host_offset;
    uint64_t host_offset;
    // data only: the run is one compressed cluster, which read() must
    // decompress; its compressed bytes start at compressed_offset, and the
    // sectors its descriptor names hold compressed_bytes from there.
    bool compressed;
    uint64_t compressed_offset;
    uint64_t compressed_bytes;
};

class BlockReader {
public:
    virtual ~BlockReader() = default;

    // The disk's length, as qemu counts it (whole sectors).
    virtual uint64_t virtual_size() const = 0;

    // What qemu's bdrv_get_info reports as the cluster size (qcow2's
    // cluster, a dynamic vpc's or a vhdx's block, a sparse vmdk's grain),
    // or 0 where it reports none (raw, fixed vpc). qemu-img convert keeps
    // its block-status runs aligned to it.
    virtual uint64_t cluster_size() const { return 0; }

    // A vmdk's CID (its descriptor's "CID"): what a vmdk child checks its
    // parentCID against before reading through it, as qemu does. False for
    // every other format (qemu then counts the parent CID as wrong).
    virtual bool vmdk_cid(uint32_t&) const { return false; }

    // The longest run from `offset` (< virtual_size(), max_bytes > 0) of one
    // kind, at most max_bytes and never past the end; at least the rest of
    // the format's smallest unit (cluster, subcluster) holding `offset`
    // unless max_bytes stops it first. Data runs with a host offset are
    // contiguous in the file. The same question always gets the same
    // answer. Fails with image_invalid where qemu's block status of the
    // range fails (damaged tables; for vhdx, which qemu maps without
    // looking, reads of a damaged range fail instead), read_failed when
    // the device fails, internal for a range outside the disk.
    virtual Status block_status(uint64_t offset, uint64_t max_bytes, BlockStatus& out) = 0;

    // The guest-visible bytes [offset, offset + len) of this layer: data from
    // the file, zeroes, and the backing file's bytes where this layer has
    // none (zeroes past the backing file's end, or without one). Fails as
    // block_status does, with image_invalid where qemu cannot decompress a
    // compressed cluster, and with unsupported_feature for what instar
    // cannot read (a qcow2 zstd cluster in zstd's pre-1.0 format).
    virtual Status read(uint64_t offset, void* buf, size_t len) = 0;
};

// What a format's open_reader is handed.
struct ReaderOpenParams {
    ImageSource& src;
    // The reader and its caches are allocated here and stay while it is
    // used; each holds a bounded amount, whatever the image's size.
    Arena& arena;
    // The layer below, opened by the caller from the image's backing file
    // name (which `info` reports), or nullptr: no backing file (or `-b ''`).
    BlockReader* backing;
    // A qcow2 image's external data file, opened by the caller from the
    // name the image gives (or the command line), or nullptr. An image that
    // needs one is refused (unsupported_feature) without it; one given to an
    // image that has none is refused (invalid_option), as qemu refuses it.
    ImageSource* data_file;
    // Where compressed data is decoded (decode_scratch.h): one the caller
    // shares between all the readers of a run, for units up to
    // kMaxDecodeUnitBytes, or nullptr: the reader takes its own from
    // `arena`, sized for its image.
    DecodeScratch* decode_scratch = nullptr;
    // convert -l: the internal snapshot to read instead of the active
    // image, as qemu's bdrv_snapshot_load_tmp switches to its L1 table (the
    // disk's size stays the image's): an index into the snapshot table.
    // Only qcow2 has snapshots; the other formats refuse any but
    // kActiveImage (invalid_option).
    uint32_t snapshot = kActiveImage;
    static constexpr uint32_t kActiveImage = ~uint32_t(0);
};

// Opens a reader in `p.arena` with the format's open checks (qemu's).
using OpenReaderFn = Status (*)(const ReaderOpenParams& p, BlockReader*& out);

}  // namespace instar::formats
