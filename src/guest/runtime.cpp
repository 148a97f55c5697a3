#include "guest/runtime.h"

#include "guest/hypercall.h"
#include "guest/log.h"

namespace instar::guest {
namespace {

bool config_is_sane(const abi::BootConfig& c, uint32_t op_enum) {
    if (c.magic != abi::kBootMagic || c.abi_version != abi::kAbiVersion) return false;
    if (c.op != op_enum) return false;
    if (c.input_count > abi::kMaxInputDevices || c.op_config_size > abi::kOpConfigMax) return false;
    return true;
}

}  // namespace

void run_op(const abi::BootConfig& config, uint32_t op_enum, OpMain op_main) {
    if (!reserve_message_buffers()) fail(abi::GuestError::out_of_memory, "no room for the message buffers");
    if (!config_is_sane(config, op_enum)) fail(abi::GuestError::bad_config, "boot config rejected");
    set_verbose(config.verbose != 0);
    op_main(config);
    fail(abi::GuestError::internal, "operation returned without a result");
}

}  // namespace instar::guest
