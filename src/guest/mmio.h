// Device register access: volatile, so every access really reaches the
// device (each one is a VM exit the host handles).
#pragma once

#include <stdint.h>

namespace instar::guest {

inline uint32_t mmio_read32(uint64_t addr) { return *reinterpret_cast<volatile uint32_t*>(addr); }
inline void mmio_write32(uint64_t addr, uint32_t v) { *reinterpret_cast<volatile uint32_t*>(addr) = v; }
inline void compiler_barrier() { asm volatile("" ::: "memory"); }

}  // namespace instar::guest
