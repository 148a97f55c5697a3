// What every platform's entry does once the machine is set up: checks the
// boot config, prepares the runtime and hands over to the operation.
#pragma once

#include <stdint.h>

#include "abi/boot_config.h"

namespace instar::guest {

using OpMain = void (*)(const abi::BootConfig& config);

// `op_enum` is the abi::OpId the operation was built for; a config for
// another op is refused. Never returns: the op ends with a result or a
// failure, and an op that returns is reported as a bug.
[[noreturn]] void run_op(const abi::BootConfig& config, uint32_t op_enum, OpMain op_main);

}  // namespace instar::guest
