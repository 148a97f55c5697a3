// Checks a flat guest binary's header and copies it into guest memory.
#pragma once

#include <cstdint>
#include <vector>

#include "abi/boot_config.h"
#include "host/guest_memory.h"
#include "host/page_tables.h"

namespace instar {

struct LoadedImage {
    uint64_t entry;
    std::vector<PageMapping> mappings;  // read-only data, code, writable data
};

LoadedImage load_guest_image(GuestMemory& memory, const std::vector<uint8_t>& binary, abi::OpId op);

// Every page the guest may touch: the image's parts plus GDT, boot config,
// stacks and heap (the memory map in abi/memory_map.h).
std::vector<PageMapping> guest_page_mappings(const LoadedImage& image);

// The subset a device may read or write: the writable mappings.
std::vector<GuestRange> dma_ranges(const std::vector<PageMapping>& mappings);

}  // namespace instar
