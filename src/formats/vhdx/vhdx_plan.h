// Resolves a create request into the file layout qemu-img 7.2 produces:
// sizes after qemu's silent rounding, and where each structure goes.
#pragma once

#include <stdint.h>

#include "formats/common/emitter.h"
#include "formats/vhdx/vhdx_bat.h"

namespace instar::formats::vhdx {

struct Plan {
    bool fixed;
    bool zero_blocks;    // BAT entries start in state ZERO
    uint64_t disk_size;  // virtual size, a multiple of 512
    uint32_t block_size;
    uint32_t log_size;
    BatGeometry bat;
    uint64_t log_offset;
    uint64_t bat_offset;
    uint32_t bat_length;  // bytes reserved for the BAT region
    uint64_t metadata_offset;
    uint64_t payload_offset;  // first payload block
    uint64_t file_size;
};

// Refuses like qemu: size above 64 TiB (size_out_of_range), log size not
// within 1 MiB..4 GiB, block size not a power of two (invalid_option).
Status make_plan(const abi::CreateRequest& req, uint64_t virtual_size, Plan& out);

// BAT entry `index` as the new image holds it: ZERO for every payload block
// with block_state_zero (fixed or not), else FULLY_PRESENT at its place after
// the gap for a fixed image, else NOT_PRESENT; sector-bitmap entries (after
// every chunk_ratio payload entries), and entries past the last block, stay
// zero (NOT_PRESENT). create writes these; convert's writer starts from them.
uint64_t initial_bat_entry(const Plan& plan, uint64_t index);

}  // namespace instar::formats::vhdx
