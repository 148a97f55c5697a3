// The guest's physical memory map: the one place that says where everything
// lives. Host (page-table builder, loader, device validation) and guest
// (linker script, allocator, drivers) both read these numbers.
//
// The guest runs identity-mapped (virtual == physical) on 4 KiB pages.
// Every region is separated from its neighbours by at least one unmapped
// guard page, so a runaway pointer or stack faults instead of corrupting a
// neighbour.
#pragma once

#include <stdint.h>

namespace instar::abi {

inline constexpr uint64_t kPageSize = 4096;

// 64 MiB of RAM: room for the largest single qcow2 metadata table qemu
// permits (a 32 MiB L1 table) next to the I/O buffers and the op itself.
// The host maps it lazily, so pages the guest never touches cost nothing.
inline constexpr uint64_t kGuestRamSize = 64ull << 20;

// Page 0 is never mapped: a null dereference faults.
inline constexpr uint64_t kNullGuardEnd = 0x1000;

// Host-owned, read-only to the guest: GDT and TSS (the CPU reads them).
inline constexpr uint64_t kGdtBase = 0x1000;

// Host-owned, not mapped at all: the page tables. The MMU walks them by
// physical address, the guest cannot reach them through any virtual one.
inline constexpr uint64_t kPageTablesBase = 0x2000;
inline constexpr uint64_t kPageTablesEnd = 0x30000;

// Host-written boot configuration, read-only to the guest: the device table
// (16 bytes per device) and the op's config.
inline constexpr uint64_t kBootConfigBase = 0x30000;
inline constexpr uint64_t kBootConfigSize = 0xd000;

// Host-owned, not mapped: the paravirtual "virtual interrupt flag" page
// that PVM hosts (KVM without VMX/SVM, see ARCHITECTURE.md) require before
// they run a ring-0 guest natively. Only the hypervisor touches it.
inline constexpr uint64_t kParavirtPageBase = 0x3e000;

// Stack used by the CPU for exceptions (TSS IST1), so that a fault caused
// by an overflowing main stack can still be reported.
inline constexpr uint64_t kExceptionStackBase = 0x40000;
inline constexpr uint64_t kExceptionStackTop = 0x48000;

// The flat guest binary. Its first bytes are a GuestImageHeader that tells
// the host where its read-only, executable and writable parts end.
inline constexpr uint64_t kImageBase = 0x100000;
inline constexpr uint64_t kImageMaxSize = 0x300000;  // up to 0x400000

// Main stack, grows down from kStackTop; guard pages below and above.
inline constexpr uint64_t kStackBase = 0x401000;
inline constexpr uint64_t kStackTop = 0x501000;

// Everything else the guest allocates: virtqueues, I/O buffers, format
// scratch. The last page of RAM stays unmapped as a guard.
inline constexpr uint64_t kHeapBase = 0x600000;
inline constexpr uint64_t kHeapEnd = kGuestRamSize - kPageSize;

// virtio-mmio devices sit right above RAM, one 4 KiB window each, mapped
// (no-execute) so the guest can reach them; accesses exit to the host.
// Devices 0 .. kMaxInputDevices-1 are inputs (read-only), kOutputDeviceIndex
// is the output. Inputs are many because a vmdk descriptor may name one
// extent file per 2 GiB of disk (`info`: the descriptor and up to 2047
// extents, a 4 TiB twoGbMaxExtent* image). An absent or unused window costs
// nothing: the guest initialises only the devices it reads.
inline constexpr uint64_t kMmioBase = kGuestRamSize;
inline constexpr uint64_t kMmioWindow = 0x1000;
inline constexpr uint32_t kMaxInputDevices = 2048;
inline constexpr uint32_t kOutputDeviceIndex = kMaxInputDevices;
inline constexpr uint32_t kMaxDevices = kMaxInputDevices + 1;

// The page tables cover [0, kAddressSpaceEnd): RAM plus the MMIO windows,
// rounded up to whole 2 MiB page tables.
inline constexpr uint64_t kAddressSpaceEnd =
    kMmioBase + (uint64_t(kMaxDevices) * kMmioWindow + (2ull << 20) - 1) / (2ull << 20) * (2ull << 20);
static_assert(kMmioBase + kMaxDevices * kMmioWindow <= kAddressSpaceEnd);

constexpr uint64_t mmio_base_of(uint32_t device_index) {
    return kMmioBase + uint64_t(device_index) * kMmioWindow;
}

static_assert(kGdtBase >= kNullGuardEnd);
static_assert(kPageTablesBase >= kGdtBase + kPageSize);
static_assert(kBootConfigBase >= kPageTablesEnd + 0 && kBootConfigBase % kPageSize == 0);
static_assert(kParavirtPageBase >= kBootConfigBase + kBootConfigSize + kPageSize);
static_assert(kExceptionStackBase >= kParavirtPageBase + 2 * kPageSize);
static_assert(kImageBase >= kExceptionStackTop + kPageSize);
static_assert(kStackBase >= kImageBase + kImageMaxSize + kPageSize);
static_assert(kHeapBase >= kStackTop + kPageSize);
static_assert(kHeapEnd <= kGuestRamSize - kPageSize);
static_assert(kMmioBase >= kGuestRamSize);
static_assert(kGuestRamSize % (2ull << 20) == 0);
static_assert(kMmioBase % (2ull << 20) == 0);

}  // namespace instar::abi
