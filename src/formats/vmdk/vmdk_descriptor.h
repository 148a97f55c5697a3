// The text descriptor embedded in a new sparse image, laid out line for line
// as qemu-img 7.2 writes it.
#pragma once

#include <stdint.h>

#include "formats/vmdk/vmdk_text.h"

namespace instar::formats::vmdk {

struct DescriptorFields {
    uint32_t cid;
    uint32_t parent_cid;          // 0xffffffff without a parent
    const char* create_type;      // "monolithicSparse", "streamOptimized"
    const char* parent_hint;      // backing file as typed, or nullptr
    uint64_t extent_sectors;
    const char* extent_file;      // base name of the extent (the image itself)
    const char* hw_version;
    uint64_t cylinders;
    uint32_t heads;
    const char* adapter_type;
    const char* tools_version;
};

// Appends the descriptor to `out`; check out.ok() for overflow.
void write_descriptor(TextBuilder& out, const DescriptorFields& f);

// The legacy CHS geometry recorded in the DDB: 63 sectors per track, 16
// heads for IDE and 255 for the SCSI adapters (what VMware uses for them).
inline constexpr uint32_t kGeometrySectors = 63;
inline constexpr uint32_t kGeometryHeadsIde = 16;
inline constexpr uint32_t kGeometryHeadsScsi = 255;

}  // namespace instar::formats::vmdk
