#include "guest/idt.h"

#include <stdint.h>

#include "guest/hypercall.h"

extern "C" const uint64_t instar_isr_table[32];

namespace instar::guest {
namespace {

struct IdtGate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t zero;
};
static_assert(sizeof(IdtGate) == 16);

constexpr uint16_t kCodeSelector = 0x08;  // host/cpu_setup.cpp's GDT
constexpr uint8_t kInterruptGate = 0x8e;  // present, DPL 0, 64-bit interrupt gate
constexpr uint8_t kExceptionIst = 1;      // TSS IST1: the dedicated exception stack

alignas(16) IdtGate g_idt[32];

struct [[gnu::packed]] IdtPointer {
    uint16_t limit;
    uint64_t base;
};

}  // namespace

void install_idt() {
    for (int v = 0; v < 32; ++v) {
        uint64_t handler = instar_isr_table[v];
        g_idt[v] = IdtGate{uint16_t(handler), kCodeSelector, kExceptionIst, kInterruptGate,
                           uint16_t(handler >> 16), uint32_t(handler >> 32), 0};
    }
    IdtPointer ptr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(&g_idt[0])};
    asm volatile("lidt %0" : : "m"(ptr));
}

}  // namespace instar::guest

// frame: vector, error code, then the CPU's RIP, CS, RFLAGS, RSP, SS.
extern "C" [[noreturn]] void instar_exception_handler(const uint64_t* frame) {
    uint64_t cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    instar::guest::send_exception(frame[0], frame[1], frame[2], cr2);
}
