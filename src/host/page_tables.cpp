#include "host/page_tables.h"

#include <cstring>

#include "abi/memory_map.h"
#include "host/error.h"

namespace instar {
namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
// Set on every entry at every level. Nothing runs at CPL 3, so it grants
// nothing; PVM hosts shadow all guest pages as user pages and refuse to
// fetch through entries without it.
constexpr uint64_t kUser = 1ull << 2;
// Accessed and dirty are preset: the CPU (or a shadowing hypervisor) need
// not write them on first use, and KVM's shadow MMU maps an accessed
// neighbour page along with a faulting one instead of taking a fault for
// each (a first touch costs ~14 us on PVM hosts).
constexpr uint64_t kAccessed = 1ull << 5;
constexpr uint64_t kDirty = 1ull << 6;
constexpr uint64_t kLargePage = 1ull << 7;
constexpr uint64_t kNoExecute = 1ull << 63;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;
constexpr uint64_t kTableEntry = kPresent | kWritable | kUser | kAccessed;

constexpr uint64_t kLargePageSize = 2ull << 20;
constexpr uint64_t kPml4 = abi::kPageTablesBase;
constexpr uint64_t kPdpt = kPml4 + abi::kPageSize;
constexpr uint64_t kPd = kPdpt + abi::kPageSize;
constexpr uint64_t kFirstPt = kPd + abi::kPageSize;
constexpr uint64_t kPtCount = abi::kAddressSpaceEnd / kLargePageSize;
static_assert(kFirstPt + kPtCount * abi::kPageSize <= abi::kPageTablesEnd, "page tables overflow their region");
static_assert(abi::kAddressSpaceEnd <= (1ull << 30), "one page directory covers 1 GiB");

uint64_t* table_at(uint8_t* ram, uint64_t gpa) { return reinterpret_cast<uint64_t*>(ram + gpa); }

uint64_t leaf_bits(const PageMapping& m) {
    return kPresent | kUser | kAccessed | (m.writable ? kWritable | kDirty : 0) | (m.executable ? 0 : kNoExecute);
}

}  // namespace

void build_page_tables(uint8_t* ram, uint64_t ram_size, const std::vector<PageMapping>& mappings) {
    if (ram_size != abi::kGuestRamSize) throw Error("unsupported guest RAM size");
    for (const PageMapping& m : mappings) {
        if (m.writable && m.executable) throw Error("guest region '" + m.name + "' would be writable and executable");
        if (m.start % abi::kPageSize || m.end % abi::kPageSize || m.start >= m.end || m.end > abi::kAddressSpaceEnd)
            throw Error("guest region '" + m.name + "' is not a page-aligned range of the address space");
        if (m.start < abi::kPageTablesEnd && m.end > abi::kPageTablesBase)
            throw Error("guest region '" + m.name + "' covers the page tables");
        for (const PageMapping& other : mappings)
            if (&other != &m && m.start < other.end && other.start < m.end)
                throw Error("guest region '" + m.name + "' overlaps another region");
    }

    // Only the tables in use are written (and cleared first): each page
    // the host touches is a page fault, and a page table not referenced
    // from the directory is never walked.
    for (uint64_t table : {kPml4, kPdpt, kPd}) std::memset(ram + table, 0, abi::kPageSize);
    table_at(ram, kPml4)[0] = kPdpt | kTableEntry;
    table_at(ram, kPdpt)[0] = kPd | kTableEntry;
    uint64_t* pd = table_at(ram, kPd);
    for (const PageMapping& m : mappings) {
        for (uint64_t page = m.start; page < m.end;) {
            const uint64_t slot = page / kLargePageSize;
            // A 2 MiB block wholly inside the region is one large page.
            if (page % kLargePageSize == 0 && m.end - page >= kLargePageSize) {
                pd[slot] = page | leaf_bits(m) | kLargePage;
                page += kLargePageSize;
                continue;
            }
            const uint64_t pt = kFirstPt + slot * abi::kPageSize;
            if (!pd[slot]) {
                std::memset(ram + pt, 0, abi::kPageSize);
                pd[slot] = pt | kTableEntry;
            }
            table_at(ram, pt)[page / abi::kPageSize % 512] = page | leaf_bits(m);
            page += abi::kPageSize;
        }
    }
}

PageLookup lookup_page(const uint8_t* ram, uint64_t ram_size, uint64_t va) {
    PageLookup out{false, true, true, 0};
    uint64_t table = kPml4;  // what CR3 points at
    const int shifts[] = {39, 30, 21, 12};
    for (int level = 0; level < 4; ++level) {
        if (table + abi::kPageSize > ram_size) return PageLookup{};
        uint64_t entry = reinterpret_cast<const uint64_t*>(ram + table)[(va >> shifts[level]) & 511];
        if (!(entry & kPresent)) return PageLookup{};
        out.writable = out.writable && (entry & kWritable);
        out.executable = out.executable && !(entry & kNoExecute);
        if (level == 2 && (entry & kLargePage)) {
            // Bits 12-20 of a large page's address are PAT and reserved bits,
            // never set here: the MMU would fault.
            if (entry & kAddressMask & (kLargePageSize - 1)) return PageLookup{};
            out.present = true;
            out.physical = (entry & kAddressMask) | (va & (kLargePageSize - 1));
            return out;
        }
        if (level < 3 && (entry & kLargePage)) return PageLookup{};  // never built
        table = entry & kAddressMask;
    }
    out.present = true;
    out.physical = table | (va & (abi::kPageSize - 1));
    return out;
}

}  // namespace instar
