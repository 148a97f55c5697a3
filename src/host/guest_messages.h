// Decodes and checks one hypercall: the guest passes the guest-physical
// address of a message struct; the host copies it out of guest memory and
// validates every field before anything else sees it. Anything malformed
// throws GuestFault.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "abi/messages.h"
#include "host/guest_memory.h"

namespace instar {

struct GuestLog {
    std::string text;  // raw guest bytes: escape before showing
};
struct GuestProgress {
    uint64_t done, total;
};
struct GuestFailure {
    abi::GuestError code;
    std::string detail;  // raw guest bytes: escape before showing
};
struct GuestResult {
    uint32_t op;
    std::vector<uint8_t> payload;
};
struct GuestRecords {
    uint32_t op, kind, record_size, count;
    std::vector<uint8_t> bytes;  // count * record_size, unchecked contents
};
struct GuestException {
    uint64_t vector, error_code, rip, cr2;
};

using GuestMessage = std::variant<GuestLog, GuestProgress, GuestFailure, GuestResult, GuestException, GuestRecords>;

GuestMessage decode_guest_message(const GuestMemory& memory, uint16_t port, uint64_t gpa);

}  // namespace instar
