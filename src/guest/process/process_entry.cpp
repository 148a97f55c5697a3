#include "guest/process/process_entry.h"

#include <unistd.h>

#include "abi/boot_config.h"
#include "abi/memory_map.h"
#include "guest/platform.h"
#include "guest/runtime.h"

// Each op's main, named by guest/op.h's INSTAR_GUEST_OP for this platform.
extern "C" {
void instar_process_op_1(const instar::abi::BootConfig& config);
void instar_process_op_2(const instar::abi::BootConfig& config);
void instar_process_op_3(const instar::abi::BootConfig& config);
void instar_process_op_4(const instar::abi::BootConfig& config);
void instar_process_op_5(const instar::abi::BootConfig& config);
}

namespace instar::guest::process {
namespace {

struct OpEntry {
    abi::OpId op;
    OpMain main;
};
constexpr OpEntry kOps[] = {
    {abi::OpId::copy, instar_process_op_1},
    {abi::OpId::create, instar_process_op_2},
    {abi::OpId::info, instar_process_op_3},
    {abi::OpId::probe, instar_process_op_4},
    {abi::OpId::convert, instar_process_op_5},
};

OpMain op_main_of(uint32_t op) {
    for (const OpEntry& e : kOps)
        if (uint32_t(e.op) == op) return e.main;
    return nullptr;
}

// What the code on the RAM stack needs: the stack switch passes nothing.
uint32_t g_op = 0;
OpMain g_main = nullptr;

[[noreturn]] void on_ram_stack() {
    const auto& config = *static_cast<const abi::BootConfig*>(platform::ram_at(abi::kBootConfigBase));
    run_op(config, g_op, g_main);
}

}  // namespace

bool has_op(uint32_t op) { return op_main_of(op) != nullptr; }

void enter(int channel, uint32_t op) {
    set_channel(channel);
    g_op = op;
    g_main = op_main_of(op);
    if (!g_main) _exit(1);  // the host checks has_op() first
    // The stack the memory map gives the guest, in the shared RAM: 16-byte
    // aligned, so after the call's return address the callee sees the ABI's
    // alignment. on_ram_stack never returns, so nothing of this frame is
    // needed again.
    void* top = platform::ram_at(abi::kStackTop);
    asm volatile(
        "mov %0, %%rsp\n\t"
        "xor %%ebp, %%ebp\n\t"
        "call *%1\n\t"
        "ud2"
        :
        : "r"(top), "r"(&on_ram_stack)
        : "memory");
    __builtin_unreachable();
}

}  // namespace instar::guest::process
