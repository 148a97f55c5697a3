// How a guest operation plugs into the runtime: one translation unit per
// operation says
//
//     INSTAR_GUEST_OP(2, abi::OpId::create, create_main)
//
// and the runtime calls create_main(config) once the platform is set up
// (guest/platform.h). The op ends by calling send_result() or fail(); returning is a bug
// the runtime reports.
#pragma once

#include "abi/boot_config.h"
#include "guest/hypercall.h"

#define INSTAR_OP_STR2(x) #x
#define INSTAR_OP_STR(x) INSTAR_OP_STR2(x)

#ifndef INSTAR_GUEST_PLATFORM_PROCESS
// op_id_literal must be a literal (the linker script reads it as a symbol);
// the static_assert ties it to the OpId.
#define INSTAR_GUEST_OP(op_id_literal, op_enum, main_fn)                                   \
    static_assert(uint32_t(op_enum) == (op_id_literal), "op id literal mismatch");        \
    asm(".globl instar_op_id\n.set instar_op_id, " INSTAR_OP_STR(op_id_literal) "\n");    \
    extern "C" void instar_op_main(const instar::abi::BootConfig& config) { main_fn(config); } \
    extern "C" const uint32_t instar_op_enum = uint32_t(op_enum)
#else
// The process platform links every op into one executable: each gets its
// own name, which guest/process/process_ops.cpp's table lists.
#define INSTAR_GUEST_OP(op_id_literal, op_enum, main_fn)                                   \
    static_assert(uint32_t(op_enum) == (op_id_literal), "op id literal mismatch");        \
    extern "C" void instar_process_op_##op_id_literal(const instar::abi::BootConfig& config) { main_fn(config); }
#endif
