// BAT geometry shared by the emitter and the probe: payload entries are
// interleaved with one sector-bitmap entry after every `chunk_ratio` of
// them. Arithmetic mirrors qemu's 32-bit counters, wrap-around included,
// so sizes computed from hostile files agree with what qemu computes.
#pragma once

#include <stdint.h>

namespace instar::formats::vhdx {

struct BatGeometry {
    uint32_t chunk_ratio;       // payload blocks per sector-bitmap entry
    uint32_t chunk_ratio_bits;  // log2(chunk_ratio)
    uint32_t data_blocks;       // payload blocks covering the disk
    uint32_t entries;           // BAT entries qemu reads and checks
};

// `block_size` must be a power of two in [1 MiB, 256 MiB]. A zero-sized
// disk yields qemu's wrapped (huge) entry count.
BatGeometry bat_geometry(uint64_t disk_size, uint32_t block_size);

// BAT index of payload block `block`.
inline uint64_t bat_index_of_block(const BatGeometry& g, uint64_t block) {
    return block + (block >> g.chunk_ratio_bits);
}

}  // namespace instar::formats::vhdx
