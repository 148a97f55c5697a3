// Builds the footer and dynamic disk header exactly as qemu-img 7.2 fills
// them.
#pragma once

#include <stdint.h>

#include "formats/vpc/vpc_geometry.h"
#include "formats/vpc/vpc_layout.h"

namespace instar::formats::vpc {

struct FooterSpec {
    bool dynamic;
    bool force_size;           // selects the "qem2" creator
    uint64_t size_bytes;       // original and current size
    Chs chs;
    uint32_t timestamp;        // seconds since 2000-01-01
    const uint8_t* uuid;       // kUuidSize bytes
};

// `out` is kFooterSize bytes; every byte is written, checksum included.
void build_footer(const FooterSpec& spec, uint8_t* out);

// `out` is kDynHeaderSize bytes. The header holds no random field, so its
// checksum is the same as qemu's for the same geometry.
void build_dyn_header(uint32_t block_size, uint32_t bat_entries, uint8_t* out);

// Seconds since the VHD epoch, wrapping to 32 bits as qemu's time(NULL) -
// base does.
uint32_t vhd_timestamp(uint64_t unix_seconds);

}  // namespace instar::formats::vpc
