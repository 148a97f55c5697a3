// Host-to-guest configuration: written by the host at kBootConfigBase
// before the vCPU starts, mapped read-only into the guest.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "memory_map.h"

namespace instar::abi {

// The guest operations. One flat guest binary per operation.
enum class OpId : uint32_t {
    copy = 1,
    create = 2,
    info = 3,
    probe = 4,
    convert = 5,
};

inline constexpr uint32_t kBootMagic = 0x42525349;  // "ISRB"
#define INSTAR_ABI_VERSION 5
inline constexpr uint32_t kAbiVersion = INSTAR_ABI_VERSION;

struct DeviceInfo {
    uint64_t size_bytes;  // exact byte length of the file (capacity is rounded up to sectors)
    uint32_t present;     // 1 when a device sits at this index
    uint32_t read_only;   // 1 for inputs
};
static_assert(sizeof(DeviceInfo) == 16);

inline constexpr uint32_t kOpConfigMax = 16384;

// What the guest's FS base points at: the start of an x86-64 thread
// control block as gcc and glibc lay it out. Code built with
// -fstack-protector (Debian's zlib and zstd in the guest, see
// ARCHITECTURE.md) reads its canary at %fs:0x28 on entry to a protected
// function and checks it on return; nothing else in the guest reads %fs.
struct GuestThreadBlock {
    uint64_t unused[5];    // glibc's tcb, dtv, self, multiple_threads and sysinfo slots
    uint64_t stack_guard;  // random per run, its lowest byte 0 (as glibc makes it)
};
static_assert(offsetof(GuestThreadBlock, stack_guard) == 0x28);

struct BootConfig {
    uint32_t magic;
    uint32_t abi_version;
    uint32_t op;              // OpId
    uint32_t verbose;         // 1: the guest may send log lines
    uint32_t input_count;     // devices 0 .. input_count-1 are inputs
    uint32_t has_output;      // device kOutputDeviceIndex is the output
    uint32_t op_config_size;  // bytes of op_config used
    uint32_t reserved;
    DeviceInfo devices[kMaxDevices];
    uint8_t op_config[kOpConfigMax];  // op-specific struct (see abi/ops/)
    GuestThreadBlock thread_block;    // the FS base (kGuestFsBase)
};
static_assert(offsetof(BootConfig, devices) == 32);
static_assert(offsetof(BootConfig, thread_block) == 32 + 16 * kMaxDevices + kOpConfigMax);
static_assert(offsetof(BootConfig, thread_block) % 8 == 0);
static_assert(sizeof(BootConfig) == 32 + 16 * kMaxDevices + kOpConfigMax + sizeof(GuestThreadBlock));
static_assert(sizeof(BootConfig) <= kBootConfigSize);

// The host sets the vCPU's FS base here, so %fs:0x28 is the stack guard,
// read-only to the guest like the rest of the boot config.
inline constexpr uint64_t kGuestFsBase = kBootConfigBase + offsetof(BootConfig, thread_block);
static_assert(kGuestFsBase + 0x28 + 8 <= kBootConfigBase + kBootConfigSize);

}  // namespace instar::abi
