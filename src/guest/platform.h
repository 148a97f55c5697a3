// The seam between the guest runtime and the machine it runs on: all the
// runtime (its virtio driver, its messages, its allocator, its entry) asks
// of a platform. Operations and format code never include this; they see
// VirtioBlk, DeviceSource/DeviceSink, heap() and the messages of
// guest/hypercall.h, which sit on top of it.
//
// Two platforms implement it:
// - kvm (platform_kvm.cpp): the flat binary in instar's micro-VM. Guest RAM
//   is identity-mapped, registers are real MMIO (each access a VM exit), a
//   message is an `out` to a port.
// - process (process/platform_process.cpp): the same runtime, ops and
//   format code compiled natively, run in a forked child under a seccomp
//   filter that leaves it one socket. Guest RAM is a shared mapping at a
//   fixed address; each register access or message is one round trip on the
//   socket, answered by the same host device code as a VM exit is.
//   ARCHITECTURE.md ("Sandboxes") says what it does and does not protect.
#pragma once

#include <stdint.h>

namespace instar::guest::platform {

// Device registers (abi/memory_map.h's MMIO windows): every access reaches
// the device, in program order with the guest's memory accesses.
uint32_t mmio_read32(uint64_t addr);
void mmio_write32(uint64_t addr, uint32_t value);

// Hands the message at guest-physical `gpa` to the host on `port`
// (abi/messages.h). The host has read it when this returns.
void hypercall(uint16_t port, uint64_t gpa);

// Stops for good once the host has the run's last message.
[[noreturn]] void halt();

// Guest RAM: a pointer into it and its guest-physical address (what the
// host is given in descriptors and messages), one from the other.
uint64_t gpa_of(const volatile void* p);
void* ram_at(uint64_t gpa);

// Keeps the compiler from moving memory accesses across it (ring updates
// before the notify that publishes them).
inline void compiler_barrier() { asm volatile("" ::: "memory"); }

}  // namespace instar::guest::platform
