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
#define INSTAR_ABI_VERSION 4
inline constexpr uint32_t kAbiVersion = INSTAR_ABI_VERSION;

struct DeviceInfo {
    uint64_t size_bytes;  // exact byte length of the file (capacity is rounded up to sectors)
    uint32_t present;     // 1 when a device sits at this index
    uint32_t read_only;   // 1 for inputs
};
static_assert(sizeof(DeviceInfo) == 16);

inline constexpr uint32_t kOpConfigMax = 16384;

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
};
static_assert(offsetof(BootConfig, devices) == 32);
static_assert(sizeof(BootConfig) == 32 + 16 * kMaxDevices + kOpConfigMax);
static_assert(sizeof(BootConfig) <= kBootConfigSize);

}  // namespace instar::abi
