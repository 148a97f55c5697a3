// What an L2 entry says about the clusters (and, with extended L2 entries,
// the subclusters) it maps: the rules of docs/interop/qcow2.txt as qemu 7.2
// applies them when it reads (qcow2_get_subcluster_type and
// qcow2_get_subcluster_range_type in block/qcow2.h and qcow2-cluster.c).
#pragma once

#include <stdint.h>

namespace instar::formats::qcow2 {

// qemu's QCow2SubclusterType. Without extended L2 entries a cluster is one
// subcluster.
enum class Subcluster : uint8_t {
    unallocated_plain,  // nothing here: the backing file's bytes, else zeroes
    unallocated_alloc,  // extended L2: the cluster exists, this subcluster is not in it
    zero_plain,         // reads as zeroes, no cluster
    zero_alloc,         // reads as zeroes, a cluster reserved for it
    normal,             // data in the cluster
    compressed,         // the whole cluster, compressed
    invalid,            // the entry contradicts itself: qemu fails the read
};

struct EntryRules {
    bool extended_l2;
    // With an external data file, offset 0 is a real cluster: qemu tells
    // it from "unallocated" by the copied flag (every cluster of a data
    // file has refcount 1).
    bool data_file;
};

struct SubclusterRun {
    Subcluster type;
    uint32_t count;  // subclusters from the one asked about to the first of another type in this entry
};

// Subcluster `sc` of the entry (`bitmap` and `sc` are 0 without extended
// L2 entries) and how many from it on share its type. The zero flag is
// classified even in version 2 images, where the caller refuses it, as
// qemu does.
SubclusterRun subcluster_run(const EntryRules& rules, uint64_t entry, uint64_t bitmap, uint32_t sc);

// Where a compressed cluster's bytes lie: its descriptor's offset, and up
// to the end of the last 512-byte sector it names.
struct CompressedExtent {
    uint64_t offset;
    uint64_t bytes;
};
CompressedExtent compressed_extent(uint64_t entry, uint32_t cluster_bits);

}  // namespace instar::formats::qcow2
