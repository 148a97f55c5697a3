#include "host/guest_exits.h"

#include <sstream>
#include <string>
#include <utility>
#include <variant>

#include "abi/memory_map.h"
#include "host/error.h"
#include "host/escape.h"
#include "host/guest_fault.h"
#include "host/guest_messages.h"

namespace instar {
namespace {

const char* exception_name(uint64_t vector) {
    static const char* const kNames[] = {
        "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
        "device not available", "double fault", "coprocessor segment overrun", "invalid TSS",
        "segment not present", "stack-segment fault", "general protection fault", "page fault", "reserved",
        "x87 floating-point error", "alignment check", "machine check", "SIMD floating-point error"};
    return vector < sizeof kNames / sizeof kNames[0] ? kNames[vector] : "exception";
}

}  // namespace

std::string guest_error_text(abi::GuestError code) {
    using E = abi::GuestError;
    switch (code) {
    case E::none: break;
    case E::bad_config: return "guest rejected its configuration";
    case E::device_missing: return "guest could not use its block devices";
    case E::read_failed: return "read from input device failed";
    case E::write_failed: return "write to output device failed";
    case E::output_too_small: return "output device is too small";
    case E::out_of_memory: return "guest ran out of memory";
    case E::invalid_option: return "invalid option for target format";
    case E::size_out_of_range: return "virtual size out of range for format";
    case E::scratch_exceeded: return "option combination exceeds guest scratch (try a larger cluster size)";
    case E::backing_header_unreadable: return "failed to read backing file header";
    case E::backing_format_unsupported: return "backing file format not supported";
    case E::backing_path_too_long: return "backing file path too long (max 1024 bytes)";
    case E::format_unsupported: return "target format not supported";
    case E::image_invalid: return "image is corrupt or not valid for its format";
    case E::image_format_unknown: return "image format is unknown";
    case E::image_format_mismatch: return "image is not in the requested format";
    case E::unsupported_feature: return "image uses a feature instar does not support";
    case E::internal: return "guest internal error";
    }
    return "guest error";
}

std::string hex(uint64_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
}

GuestExits::GuestExits(const GuestMemory& memory, GuestDevices& devices, const GuestRun& run)
    : memory_(memory), devices_(devices), run_(run), records_(uint32_t(run.op), run.record_kinds) {}

uint64_t GuestExits::mmio(uint64_t addr, bool is_write, uint32_t len, uint64_t value) {
    uint64_t index = (addr - abi::kMmioBase) / abi::kMmioWindow;
    if (addr < abi::kMmioBase || index >= abi::kMaxDevices || len == 0 || len > 8)
        throw GuestFault("access to unmapped address " + hex(addr));
    uint64_t offset = addr - abi::mmio_base_of(uint32_t(index));
    VirtioMmioBlock* dev = devices_.at(index);
    if (is_write) {
        if (dev) dev->write(offset, value, len);
        return 0;
    }
    return dev ? dev->read(offset, len) : 0;
}

std::optional<GuestOutput> GuestExits::hypercall(uint16_t port, uint64_t gpa) {
    GuestMessage m = decode_guest_message(memory_, port, gpa);
    if (auto* log = std::get_if<GuestLog>(&m)) {
        if (run_.verbose && run_.on_log) run_.on_log(escape_untrusted(log->text));
    } else if (auto* p = std::get_if<GuestProgress>(&m)) {
        if (run_.on_progress) run_.on_progress(p->done, p->total);
    } else if (auto* f = std::get_if<GuestFailure>(&m)) {
        std::string text = guest_error_text(f->code);
        if (run_.verbose && !f->detail.empty()) text += " (" + escape_untrusted(f->detail) + ")";
        throw GuestFailed(f->code, text);
    } else if (auto* r = std::get_if<GuestResult>(&m)) {
        if (r->op != uint32_t(run_.op)) throw GuestFault("result is for another operation");
        devices_.settle();
        return GuestOutput{std::move(r->payload), records_.take()};
    } else if (auto* list = std::get_if<GuestRecords>(&m)) {
        records_.add(*list);
    } else if (auto* e = std::get_if<GuestException>(&m)) {
        std::string text = "guest crashed: " + std::string(exception_name(e->vector)) + " at rip " + hex(e->rip);
        if (e->vector == 14) text += " (address " + hex(e->cr2) + ")";
        throw Error(text);
    }
    return std::nullopt;
}

}  // namespace instar
