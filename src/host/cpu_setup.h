// Puts the vCPU straight into 64-bit long mode: GDT and TSS written by the
// host, paging on with the host-built tables, NX and SSE enabled, RIP at the
// guest's entry and RSP at the top of its stack.
#pragma once

#include <cstdint>

#include "host/guest_memory.h"
#include "host/kvm.h"

namespace instar {

// Writes the GDT and TSS into guest memory (abi::kGdtBase).
void write_descriptor_tables(GuestMemory& memory);

void setup_long_mode_cpu(const Vm& vm, uint64_t entry);

}  // namespace instar
