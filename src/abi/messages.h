// Guest-to-host messages. The guest writes the guest-physical address of a
// message struct (32 bits: all RAM lies below 4 GiB) to the I/O port of the
// message type. One `out` instruction, one VM exit, one message.
//
// Every struct here is copied out of guest memory by the host and checked
// field by field before anything else looks at it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/status.h"

namespace instar::abi {

inline constexpr uint16_t kHypercallPortBase = 0x500;

enum class Hypercall : uint16_t {
    log = 0,        // LogMessage: a line for --verbose
    progress = 1,   // ProgressMessage
    error = 2,      // ErrorMessage: the operation failed; the run ends
    result = 3,     // ResultMessage: the operation's typed result; the run ends
    exception = 4,  // ExceptionMessage: a CPU exception in the guest; the run ends
    records = 5,    // RecordsMessage: entries of one of the operation's lists
};
inline constexpr uint16_t kHypercallCount = 6;

constexpr uint16_t hypercall_port(Hypercall h) {
    return uint16_t(kHypercallPortBase + uint16_t(h));
}

inline constexpr uint32_t kMessageMagic = 0x4d525349;  // "ISRM"

// Common first field of every message.
struct MessageHeader {
    uint32_t magic;
    uint32_t size;  // sizeof the whole message struct
};
static_assert(sizeof(MessageHeader) == 8);

inline constexpr uint32_t kLogTextMax = 240;
struct LogMessage {
    MessageHeader header;
    uint32_t length;  // bytes of text used, <= kLogTextMax
    uint32_t reserved;
    char text[kLogTextMax];
};
static_assert(sizeof(LogMessage) == 256);
static_assert(offsetof(LogMessage, text) == 16);

struct ProgressMessage {
    MessageHeader header;
    uint64_t done;
    uint64_t total;
};
static_assert(sizeof(ProgressMessage) == 24);

inline constexpr uint32_t kErrorDetailMax = 240;
struct ErrorMessage {
    MessageHeader header;
    uint32_t code;    // GuestError
    uint32_t length;  // bytes of detail used
    char detail[kErrorDetailMax];
};
static_assert(sizeof(ErrorMessage) == 256);

// The operation's result: an op-specific struct follows the header. The
// host checks `op` and `payload_size` against the operation it started.
inline constexpr uint32_t kResultPayloadMax = 65536;
struct ResultMessage {
    MessageHeader header;
    uint32_t op;            // OpId
    uint32_t payload_size;  // bytes of payload used
    uint8_t payload[kResultPayloadMax];
};
static_assert(offsetof(ResultMessage, payload) == 16);

// Lists too long for the result struct (snapshots, extents, bitmaps) come
// as records before the result: fixed-size structs of an op-specific kind,
// batched so that one exit carries many. The host accepts only the kinds,
// record sizes and counts the operation declared (GuestRun::record_kinds).
inline constexpr uint32_t kRecordsPayloadMax = 65536;
struct RecordsMessage {
    MessageHeader header;
    uint32_t op;           // OpId
    uint32_t kind;         // op-specific (e.g. InfoRecord)
    uint32_t record_size;  // bytes per record: sizeof the kind's struct
    uint32_t count;        // records in payload
    uint8_t payload[kRecordsPayloadMax];
};
static_assert(offsetof(RecordsMessage, payload) == 24);

struct ExceptionMessage {
    MessageHeader header;
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cr2;
};
static_assert(sizeof(ExceptionMessage) == 40);

}  // namespace instar::abi
