#include "host/guest_messages.h"

#include <cstring>

#include "host/guest_fault.h"

namespace instar {
namespace {

template <typename M>
M copy_message(const GuestMemory& memory, uint64_t gpa, const char* kind) {
    const uint8_t* p = memory.at(gpa, sizeof(M));
    if (!p) throw GuestFault(std::string(kind) + " message lies outside guest memory");
    M m;
    std::memcpy(&m, p, sizeof m);
    if (m.header.magic != abi::kMessageMagic || m.header.size != sizeof(M))
        throw GuestFault(std::string(kind) + " message has a bad header");
    return m;
}

std::string bounded_text(const char* text, uint32_t length, uint32_t max, const char* kind) {
    if (length > max) throw GuestFault(std::string(kind) + " message text length is out of range");
    return std::string(text, length);
}

}  // namespace

GuestMessage decode_guest_message(const GuestMemory& memory, uint16_t port, uint64_t gpa) {
    if (port < abi::kHypercallPortBase || port >= abi::kHypercallPortBase + abi::kHypercallCount)
        throw GuestFault("access to unknown I/O port " + std::to_string(port));
    switch (abi::Hypercall(port - abi::kHypercallPortBase)) {
    case abi::Hypercall::log: {
        auto m = copy_message<abi::LogMessage>(memory, gpa, "log");
        return GuestLog{bounded_text(m.text, m.length, abi::kLogTextMax, "log")};
    }
    case abi::Hypercall::progress: {
        auto m = copy_message<abi::ProgressMessage>(memory, gpa, "progress");
        if (m.done > m.total) throw GuestFault("progress message is inconsistent");
        return GuestProgress{m.done, m.total};
    }
    case abi::Hypercall::error: {
        auto m = copy_message<abi::ErrorMessage>(memory, gpa, "error");
        if (m.code == 0 || m.code >= abi::kGuestErrorCount) throw GuestFault("error message has an unknown code");
        return GuestFailure{abi::GuestError(m.code), bounded_text(m.detail, m.length, abi::kErrorDetailMax, "error")};
    }
    case abi::Hypercall::result: {
        auto m = copy_message<abi::ResultMessage>(memory, gpa, "result");
        if (m.payload_size > abi::kResultPayloadMax) throw GuestFault("result message payload size is out of range");
        return GuestResult{m.op, std::vector<uint8_t>(m.payload, m.payload + m.payload_size)};
    }
    case abi::Hypercall::records: {
        auto m = copy_message<abi::RecordsMessage>(memory, gpa, "records");
        if (m.record_size == 0 || m.count == 0 || m.count > abi::kRecordsPayloadMax / m.record_size)
            throw GuestFault("records message sizes are out of range");
        size_t n = size_t(m.count) * m.record_size;
        return GuestRecords{m.op, m.kind, m.record_size, m.count, std::vector<uint8_t>(m.payload, m.payload + n)};
    }
    case abi::Hypercall::exception: {
        auto m = copy_message<abi::ExceptionMessage>(memory, gpa, "exception");
        return GuestException{m.vector, m.error_code, m.rip, m.cr2};
    }
    }
    throw GuestFault("unknown hypercall");
}

}  // namespace instar
