// Messages to the host: each is one struct and one `out` instruction.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/boot_config.h"
#include "abi/messages.h"

namespace instar::guest {

void send_log(const char* text, size_t len);
void send_progress(uint64_t done, uint64_t total);

// One entry of one of the op's lists (abi::RecordsMessage). Records are
// batched, one exit per full batch or change of kind; send_result sends
// what is pending first.
void send_record(abi::OpId op, uint32_t kind, const void* record, size_t size);

// Ends the operation: the host stops the VM when it gets either message,
// so these do not return.
[[noreturn]] void fail(abi::GuestError code, const char* detail = "");
[[noreturn]] void fail(abi::GuestError code, const char* detail, size_t len);
[[noreturn]] void send_result(abi::OpId op, const void* payload, size_t size);

template <typename T>
[[noreturn]] void send_result(abi::OpId op, const T& payload) {
    send_result(op, &payload, sizeof(T));
}

// From the exception handler: report a CPU exception and stop.
[[noreturn]] void send_exception(uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2);

[[noreturn]] void halt_forever();

// Reserves the result and records messages in guest RAM; the runtime's
// entry calls it before the op runs. False when the heap has no room.
bool reserve_message_buffers();

}  // namespace instar::guest
