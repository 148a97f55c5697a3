#include "formats/vhdx/vhdx_bat.h"

#include "formats/vhdx/vhdx_layout.h"

namespace instar::formats::vhdx {

namespace {

uint32_t log2_of_power_of_two(uint64_t v) {
    uint32_t bits = 0;
    while (v > 1) {
        v >>= 1;
        ++bits;
    }
    return bits;
}

}  // namespace

BatGeometry bat_geometry(uint64_t disk_size, uint32_t block_size) {
    BatGeometry g;
    g.chunk_ratio = uint32_t(kMaxSectorsPerBitmapBlock * kLogicalSectorSize / block_size);
    g.chunk_ratio_bits = log2_of_power_of_two(g.chunk_ratio);
    g.data_blocks = uint32_t((disk_size + block_size - 1) / block_size);
    g.entries = g.data_blocks + ((g.data_blocks - 1) >> g.chunk_ratio_bits);
    return g;
}

}  // namespace instar::formats::vhdx
