// Data written into a new qcow2 image the way qemu 7.2 writes it when
// `qemu-img convert` fills the image it has just created: the same cluster
// allocator (qcow2_allocator.h) makes the same decisions in the same order
// (qcow2_alloc_host_offset: handle_copied, handle_alloc, L2 tables on
// first use, refcount blocks and table growth as they come), so the file
// is laid out byte for byte as qemu's.
//
// Writes arrive in guest order, as qemu-img convert issues them without
// -W, so only the current L2 table is held in memory and memory does not
// grow with the virtual size. Each L2 table is written when the writes
// move past it, a replaced refcount table when it is replaced (later data
// may land on its freed clusters, as in qemu), and the header, refcount
// structures and L1 table by finish().
//
// A preallocated image (preallocation=metadata, falloc, full) is written
// out whole by open(), as `create` writes it; data then goes in place.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/block/image_writer.h"
#include "formats/common/arena.h"
#include "formats/common/compression.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/qcow2/qcow2_options.h"
#include "formats/qcow2/qcow2_plan.h"

namespace instar::formats::qcow2 {

class Writer final : public ImageWriter {
public:
    // `compress`: writes come through write_compressed (convert -c).
    Status open(const CreateParams& params, Arena& arena, ImageSink& sink, bool compress = false);
    // Guest bytes [offset, offset + len): sector-aligned, inside the disk,
    // and never before the end of the previous write's first cluster.
    Status write(uint64_t offset, const uint8_t* data, uint64_t len) override;
    // qcow2_co_pwritev_compressed_task: one whole cluster at guest `offset`
    // (the disk's last may be shorter), compressed with qemu's parameters
    // and packed after the previous one (qcow2_alloc_bytes); stored as a
    // plain cluster when it does not shrink.
    Status write_compressed(uint64_t offset, const uint8_t* data, uint64_t len) override;
    // The metadata not yet written; the file's final length.
    Status finish() override;

    uint64_t file_size() const override { return plan_.alloc.file_end(); }
    uint64_t metadata_bytes() const { return metadata_bytes_; }
    uint64_t cluster_size() const override { return cs_; }
    uint64_t virtual_size() const override { return p_.size; }

private:
    // One allocation or in-place write that changes L2 entries (qemu's
    // QCowL2Meta): clusters from guest/host, and the copy-on-write areas,
    // in bytes from the first cluster's start.
    struct Meta {
        uint64_t guest;
        uint64_t host;
        uint64_t clusters;
        uint64_t cow_start_from, cow_start_to;
        uint64_t cow_end_from, cow_end_to;
    };
    static constexpr size_t kMaxMetas = 64;

    Status map(uint64_t offset, uint64_t& bytes, uint64_t& host);
    Status handle_copied(uint64_t start, uint64_t& cluster_offset, uint64_t& bytes, bool& progressed);
    Status handle_alloc(uint64_t start, uint64_t& cluster_offset, uint64_t& bytes, bool& allocated);
    Status add_meta(uint64_t host_cluster, uint64_t guest, uint64_t bytes, bool keep_old);
    Status zero_cow(const Meta& m);
    void link(const Meta& m);
    Status write_in_place(uint64_t offset, const uint8_t* data, uint64_t len);

    Status ensure_l2(uint64_t guest);
    Status flush_l2();
    Status write_new_stale_tables();
    Status put(uint64_t offset, const void* data, uint64_t len);

    uint64_t clusters_for(uint64_t start, uint64_t bytes) const;
    uint64_t l2_index(uint64_t guest) const { return (guest >> p_.cluster_bits) & (l2_entries_ - 1); }
    uint64_t entry(uint64_t index) const;
    uint64_t bitmap(uint64_t index) const;
    void set_entry(uint64_t index, uint64_t entry, uint64_t bitmap);

    CreateParams p_{};
    ImagePlan plan_{};
    Arena* arena_ = nullptr;
    ImageSink* sink_ = nullptr;
    uint64_t cs_ = 0;
    uint64_t l2_entries_ = 0;
    uint32_t subcluster_bits_ = 0;
    bool preallocated_ = false;
    size_t run_cursor_ = 0;
    uint64_t floor_ = 0;  // where the next write may start: the previous one's last cluster

    uint64_t* l1_ = nullptr;
    uint8_t* l2_ = nullptr;           // the current L2 table, as it will be on disk
    uint64_t l2_table_ = ~uint64_t(0);  // its L1 index
    size_t stale_written_ = 0;
    uint8_t* zeroes_ = nullptr;       // one cluster
    ClusterCompressor* compressor_ = nullptr;
    uint8_t* cluster_in_ = nullptr;   // one cluster, zero-padded
    uint8_t* cluster_out_ = nullptr;
    bool wrote_compressed_ = false;
    Meta metas_[kMaxMetas];
    size_t meta_count_ = 0;
    uint64_t metadata_bytes_ = 0;
};

// FormatDriver::open_writer for qcow2.
Status open_writer(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats::qcow2
