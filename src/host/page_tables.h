// The guest's identity map. Only the pages of listed regions are present;
// every other page (guards, page tables, the gap below the image) faults.
// No page is ever both writable and executable. Pages are 4 KiB, except
// that an aligned 2 MiB block wholly inside one region (most of the heap)
// is a single large page with that region's permissions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace instar {

struct PageMapping {
    uint64_t start;  // page-aligned guest-physical address
    uint64_t end;    // exclusive, page-aligned
    bool writable;
    bool executable;
    std::string name;  // for error messages
};

// Writes PML4, PDPT, PD and page tables at abi::kPageTablesBase in `ram`.
// Throws Error on a mapping that is W+X, unaligned, outside the address
// space (RAM + MMIO windows), overlapping
// another, or covering the page tables themselves.
void build_page_tables(uint8_t* ram, uint64_t ram_size, const std::vector<PageMapping>& mappings);

struct PageLookup {
    bool present;
    bool writable;
    bool executable;
    uint64_t physical;
};

// Walks the tables as the MMU would (for tests and diagnostics).
PageLookup lookup_page(const uint8_t* ram, uint64_t ram_size, uint64_t virtual_address);

}  // namespace instar
