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
constexpr uint64_t kNoExecute = 1ull << 63;
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;
constexpr uint64_t kLargePage = 1ull << 7;

constexpr uint64_t kPml4 = abi::kPageTablesBase;
constexpr uint64_t kPdpt = kPml4 + abi::kPageSize;
constexpr uint64_t kPd = kPdpt + abi::kPageSize;
constexpr uint64_t kFirstPt = kPd + abi::kPageSize;
constexpr uint64_t kPtCount = abi::kAddressSpaceEnd / (2ull << 20);
static_assert(kFirstPt + kPtCount * abi::kPageSize <= abi::kPageTablesEnd, "page tables overflow their region");
static_assert(abi::kAddressSpaceEnd <= (1ull << 30), "one page directory covers 1 GiB");

uint64_t* table_at(uint8_t* ram, uint64_t gpa) { return reinterpret_cast<uint64_t*>(ram + gpa); }

}  // namespace

void build_page_tables(uint8_t* ram, uint64_t ram_size, const std::vector<PageMapping>& mappings) {
    if (ram_size != abi::kGuestRamSize) throw Error("unsupported guest RAM size");
    std::memset(ram + abi::kPageTablesBase, 0, abi::kPageTablesEnd - abi::kPageTablesBase);
    table_at(ram, kPml4)[0] = kPdpt | kPresent | kWritable | kUser;
    table_at(ram, kPdpt)[0] = kPd | kPresent | kWritable | kUser;
    for (uint64_t i = 0; i < kPtCount; ++i)
        table_at(ram, kPd)[i] = (kFirstPt + i * abi::kPageSize) | kPresent | kWritable | kUser;

    for (const PageMapping& m : mappings) {
        if (m.writable && m.executable) throw Error("guest region '" + m.name + "' would be writable and executable");
        if (m.start % abi::kPageSize || m.end % abi::kPageSize || m.start >= m.end || m.end > abi::kAddressSpaceEnd)
            throw Error("guest region '" + m.name + "' is not a page-aligned range of the address space");
        if (m.start < abi::kPageTablesEnd && m.end > abi::kPageTablesBase)
            throw Error("guest region '" + m.name + "' covers the page tables");
        for (uint64_t page = m.start; page < m.end; page += abi::kPageSize) {
            uint64_t& pte = table_at(ram, kFirstPt)[page / abi::kPageSize];
            if (pte) throw Error("guest region '" + m.name + "' overlaps another region");
            pte = page | kPresent | kUser | (m.writable ? kWritable : 0) | (m.executable ? 0 : kNoExecute);
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
        if (level < 3 && (entry & kLargePage)) return PageLookup{};  // never built
        out.writable = out.writable && (entry & kWritable);
        out.executable = out.executable && !(entry & kNoExecute);
        table = entry & kAddressMask;
    }
    out.present = true;
    out.physical = table | (va & (abi::kPageSize - 1));
    return out;
}

}  // namespace instar
