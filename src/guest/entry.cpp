// The kvm platform's C++ entry (start.S calls it): runs the static
// constructors, installs the exception handlers, then hands over to the
// one operation linked into this binary.
#include "abi/memory_map.h"
#include "guest/idt.h"
#include "guest/platform.h"
#include "guest/runtime.h"

extern "C" void instar_op_main(const instar::abi::BootConfig& config);
extern "C" const uint32_t instar_op_enum;
extern "C" void (*const __init_array_start[])();
extern "C" void (*const __init_array_end[])();

extern "C" [[noreturn]] void instar_guest_main() {
    using namespace instar;
    for (auto* f = __init_array_start; f != __init_array_end; ++f) (*f)();
    guest::install_idt();
    const auto& config = *static_cast<const abi::BootConfig*>(guest::platform::ram_at(abi::kBootConfigBase));
    guest::run_op(config, instar_op_enum, instar_op_main);
}
