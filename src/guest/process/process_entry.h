// The process platform's entry: what the host's process sandbox calls in
// the forked op process once it has confined it (host/process_sandbox.cpp).
#pragma once

#include <stdint.h>

namespace instar::guest::process {

// True when the op (an abi::OpId) is built for the process platform.
bool has_op(uint32_t op);

// Runs op `op` on the boot config at abi::kBootConfigBase of the shared
// RAM, on the RAM's stack (so its stack buffers are guest RAM the host may
// use, as in a VM), talking to the host on `channel`. Never returns.
[[noreturn]] void enter(int channel, uint32_t op);

// The channel the platform talks on (platform_process.cpp).
void set_channel(int fd);

}  // namespace instar::guest::process
