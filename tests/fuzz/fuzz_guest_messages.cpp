// The hypercall message validator (decode_guest_message) over arbitrary
// bytes at an arbitrary guest-physical address, on an arbitrary port.
//
// Input: u16le port, u8 placement, u64le gpa, then the message bytes,
// copied to guest RAM at the gpa (clipped to RAM). placement % 4: 0 gpa
// anywhere in RAM, 1 within 64 KiB below the end of RAM, 2 the raw 64-bit
// value (mostly outside RAM), 3 the gpa modulo 4 GiB (what a 32-bit `out`
// can carry).
//
// Must hold: GuestFault is the only way out; the host reads nothing outside
// [gpa, gpa + sizeof(message)) (the rest of RAM is poisoned for ASan, and
// guard pages sit around RAM); a decoded message obeys every bound the
// printing code relies on.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <variant>

#include "abi/messages.h"
#include "abi/memory_map.h"
#include "fuzz_host.h"
#include "fuzz_target.h"
#include "host/guest_fault.h"
#include "host/guest_messages.h"

using namespace instar;
using namespace instar::fuzz;

namespace {

// Smaller than the real 64 MiB, to keep per-run resets and poisoning
// cheap: the validator only ever compares against memory.size().
constexpr uint64_t kRam = 1u << 20;

uint64_t message_size(uint16_t port) {
    switch (int(port) - int(abi::kHypercallPortBase)) {
    case 0: return sizeof(abi::LogMessage);
    case 1: return sizeof(abi::ProgressMessage);
    case 2: return sizeof(abi::ErrorMessage);
    case 3: return sizeof(abi::ResultMessage);
    case 4: return sizeof(abi::ExceptionMessage);
    case 5: return sizeof(abi::RecordsMessage);
    default: return 0;
    }
}

struct Check {
    void operator()(const GuestLog& m) const {
        if (m.text.size() > abi::kLogTextMax) invariant_failed("log text longer than kLogTextMax");
    }
    void operator()(const GuestProgress& m) const {
        if (m.done > m.total) invariant_failed("progress done > total");
    }
    void operator()(const GuestFailure& m) const {
        if (uint32_t(m.code) == 0 || uint32_t(m.code) >= abi::kGuestErrorCount)
            invariant_failed("error code out of range");
        if (m.detail.size() > abi::kErrorDetailMax) invariant_failed("error detail longer than kErrorDetailMax");
    }
    void operator()(const GuestResult& m) const {
        if (m.payload.size() > abi::kResultPayloadMax) invariant_failed("result payload too large");
    }
    void operator()(const GuestException&) const {}
    void operator()(const GuestRecords& m) const {
        if (m.record_size == 0 || m.count == 0) invariant_failed("records without a size or a count");
        if (m.bytes.size() != uint64_t(m.count) * m.record_size) invariant_failed("records bytes != count * size");
        if (m.bytes.size() > abi::kRecordsPayloadMax) invariant_failed("records payload too large");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static GuardedGuestMemory memory(kRam);
    uint8_t head[11] = {};
    std::memcpy(head, data, std::min(size, sizeof head));
    const uint8_t* body = data + std::min(size, sizeof head);
    const size_t body_len = size - std::min(size, sizeof head);

    const uint16_t port = uint16_t(head[0] | (head[1] << 8));
    uint64_t gpa = 0;
    for (int i = 0; i < 8; ++i) gpa |= uint64_t(head[3 + i]) << (8 * i);
    switch (head[2] % 4) {
    case 0: gpa %= kRam; break;
    case 1: gpa = kRam - 1 - (gpa % 0x10000); break;
    case 2: break;
    case 3: gpa &= 0xffffffffu; break;
    }

    unpoison_ram(*memory);
    std::memset(memory->base(), 0, kRam);
    place(*memory, gpa, body, body_len);
    // Poison all but the one message the port names (all of RAM for an
    // unknown port: nothing may be read then).
    const uint64_t n = message_size(port);
    if (gpa < kRam && n) {
        poison_ram(*memory, 0, gpa);
        poison_ram(*memory, gpa + n, kRam);
    } else {
        poison_ram(*memory, 0, kRam);
    }

    try {
        std::visit(Check{}, decode_guest_message(*memory, port, gpa));
    } catch (const GuestFault&) {
        // Refused: the expected outcome for most inputs.
    }
    unpoison_ram(*memory);
    return 0;
}
