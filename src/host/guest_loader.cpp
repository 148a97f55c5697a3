#include "host/guest_loader.h"

#include <cstring>

#include "abi/guest_image.h"
#include "abi/memory_map.h"
#include "host/error.h"

namespace instar {

LoadedImage load_guest_image(GuestMemory& memory, const std::vector<uint8_t>& binary, abi::OpId op) {
    // The binary is ours (embedded at build time), but a damaged or
    // mismatched one must fail loudly, not run.
    abi::GuestImageHeader h;
    if (binary.size() < sizeof h) throw Error("guest binary is truncated");
    std::memcpy(&h, binary.data(), sizeof h);
    if (h.magic != abi::kImageMagic || h.abi_version != abi::kAbiVersion)
        throw Error("guest binary has a bad header or another ABI version");
    if (h.op != uint32_t(op)) throw Error("guest binary implements another operation");
    const uint64_t base = abi::kImageBase, limit = abi::kImageBase + abi::kImageMaxSize;
    auto aligned = [](uint64_t a) { return a % abi::kPageSize == 0; };
    bool ordered = base < h.rodata_end && h.rodata_end < h.text_end && h.text_end <= h.data_end &&
                   h.data_end <= h.bss_end && h.bss_end <= limit;
    if (!ordered || !aligned(h.rodata_end) || !aligned(h.text_end) || !aligned(h.bss_end))
        throw Error("guest binary has an invalid layout");
    if (h.entry < h.rodata_end || h.entry >= h.text_end) throw Error("guest entry point is outside its code");
    if (binary.size() > h.data_end - base) throw Error("guest binary is larger than its layout");

    uint8_t* dst = memory.at(base, h.bss_end - base);
    if (!dst) throw Error("guest binary does not fit in guest memory");
    std::memcpy(dst, binary.data(), binary.size());
    std::memset(dst + binary.size(), 0, (h.bss_end - base) - binary.size());

    LoadedImage image;
    image.entry = h.entry;
    image.mappings = {
        {base, h.rodata_end, false, false, "guest read-only data"},
        {h.rodata_end, h.text_end, false, true, "guest code"},
    };
    if (h.bss_end > h.text_end) image.mappings.push_back({h.text_end, h.bss_end, true, false, "guest data"});
    return image;
}

std::vector<PageMapping> guest_page_mappings(const LoadedImage& image) {
    using namespace abi;
    std::vector<PageMapping> m = {
        {kGdtBase, kGdtBase + kPageSize, false, false, "GDT"},
        {kBootConfigBase, kBootConfigBase + kBootConfigSize, false, false, "boot config"},
        {kExceptionStackBase, kExceptionStackTop, true, false, "exception stack"},
        {kStackBase, kStackTop, true, false, "stack"},
        {kHeapBase, kHeapEnd, true, false, "heap"},
        {kMmioBase, mmio_base_of(kMaxDevices), true, false, "device windows"},
    };
    m.insert(m.end(), image.mappings.begin(), image.mappings.end());
    return m;
}

std::vector<GuestRange> dma_ranges(const std::vector<PageMapping>& mappings) {
    std::vector<GuestRange> out;
    for (const PageMapping& m : mappings)
        if (m.writable && m.end <= abi::kGuestRamSize) out.push_back({m.start, m.end});
    return out;
}

}  // namespace instar
