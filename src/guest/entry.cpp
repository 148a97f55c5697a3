// The runtime's C++ entry: checks the boot config, installs the exception
// handlers, then hands over to the one operation linked into this binary.
#include "abi/boot_config.h"
#include "abi/memory_map.h"
#include "guest/hypercall.h"
#include "guest/idt.h"
#include "guest/log.h"

extern "C" void instar_op_main(const instar::abi::BootConfig& config);
extern "C" const uint32_t instar_op_enum;
extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

namespace instar::guest {
namespace {

bool config_is_sane(const abi::BootConfig& c) {
    if (c.magic != abi::kBootMagic || c.abi_version != abi::kAbiVersion) return false;
    if (c.op != instar_op_enum) return false;
    if (c.input_count > abi::kMaxInputDevices || c.op_config_size > abi::kOpConfigMax) return false;
    return true;
}

}  // namespace
}  // namespace instar::guest

extern "C" [[noreturn]] void instar_guest_main() {
    using namespace instar;
    for (auto* f = __init_array_start; f != __init_array_end; ++f) (*f)();
    guest::install_idt();
    const auto& config = *reinterpret_cast<const abi::BootConfig*>(abi::kBootConfigBase);
    if (!guest::config_is_sane(config)) guest::fail(abi::GuestError::bad_config, "boot config rejected");
    guest::set_verbose(config.verbose != 0);
    instar_op_main(config);
    guest::fail(abi::GuestError::internal, "operation returned without a result");
}
