// The kvm platform (guest/platform.h): instar's micro-VM, identity-mapped.
#include "guest/platform.h"

namespace instar::guest::platform {

// volatile: every access really reaches the device (a VM exit the host
// handles).
uint32_t mmio_read32(uint64_t addr) { return *reinterpret_cast<volatile uint32_t*>(addr); }
void mmio_write32(uint64_t addr, uint32_t value) { *reinterpret_cast<volatile uint32_t*>(addr) = value; }

void hypercall(uint16_t port, uint64_t gpa) {
    // All RAM is below 4 GiB, so the 32-bit port write carries the whole
    // guest-physical address.
    asm volatile("outl %0, %1" : : "a"(uint32_t(gpa)), "d"(port) : "memory");
}

void halt() {
    for (;;) asm volatile("cli; hlt");
}

uint64_t gpa_of(const volatile void* p) { return reinterpret_cast<uint64_t>(p); }
void* ram_at(uint64_t gpa) { return reinterpret_cast<void*>(gpa); }

}  // namespace instar::guest::platform
