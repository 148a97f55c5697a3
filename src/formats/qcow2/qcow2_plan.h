// Replays what `qemu-img create -f qcow2` does after writing its initial
// three clusters (block/qcow2.c qcow2_co_create, qcow2_co_truncate,
// preallocate_co; block/qcow2-cluster.c): reserve the header and refcount
// clusters, grow the L1 table to the virtual size and, when asked,
// preallocate L2 tables and data clusters. The result is where every
// structure ends up and how long the file is; nothing is written here.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/status.h"
#include "formats/qcow2/qcow2_allocator.h"
#include "formats/qcow2/qcow2_options.h"

namespace instar::formats::qcow2 {

// Guest clusters [guest, guest+count) live at host clusters [host, host+count).
struct DataRun {
    uint64_t guest_cluster;
    uint64_t host_cluster;
    uint64_t count;
};

struct ByteRange {
    uint64_t offset;
    uint64_t len;
};

struct ImagePlan {
    static constexpr size_t kMaxZeroWrites = 8;

    Allocator alloc;
    uint32_t l2_bits;        // log2 of entries per L2 table
    uint64_t l2_entry_bytes;
    uint64_t l1_size;        // entries
    uint64_t l1_offset;
    uint64_t* l1;            // nullptr when every entry is zero
    DataRun* runs;           // in guest order
    size_t run_count;
    size_t run_capacity;
    // Zeroes qemu writes into data clusters (copy-on-write of the partial
    // last cluster); they matter only where stale bytes lie underneath.
    ByteRange zero_writes[kMaxZeroWrites];
    size_t zero_write_count;
    bool has_prealloc;       // the data area qemu asks the file to allocate
    ByteRange prealloc;
    // Replaced refcount tables and L2 tables were written as they happened
    // (qcow2_writer.h): rendering leaves them, and l1, as they are.
    bool streamed;
};

// `max_shared`: room for host clusters that compressed clusters written
// later will share (Allocator::init).
Status plan_image(const CreateParams& params, Arena& arena, ImagePlan& plan, size_t max_shared = 0);

}  // namespace instar::formats::qcow2
