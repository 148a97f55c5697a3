#include "guest/hypercall.h"

#include "guest/libc.h"

namespace instar::guest {
namespace {

void out(abi::Hypercall h, const void* message) {
    // All RAM is below 4 GiB, so the 32-bit port write carries the whole
    // guest-physical address.
    uint32_t gpa = uint32_t(reinterpret_cast<uintptr_t>(message));
    uint16_t port = abi::hypercall_port(h);
    asm volatile("outl %0, %1" : : "a"(gpa), "d"(port) : "memory");
}

template <typename M>
void init_header(M& m) {
    m.header.magic = abi::kMessageMagic;
    m.header.size = sizeof(M);
}

size_t copy_text(char* dst, size_t cap, const char* src, size_t len) {
    size_t n = len < cap ? len : cap;
    memcpy(dst, src, n);
    return n;
}

// The result and records messages are large; they live in .bss, not on
// the stack.
abi::ResultMessage g_result;
abi::RecordsMessage g_records;

void flush_records() {
    if (g_records.count == 0) return;
    init_header(g_records);
    out(abi::Hypercall::records, &g_records);
    g_records.count = 0;
}

}  // namespace

void halt_forever() {
    for (;;) asm volatile("cli; hlt");
}

void send_log(const char* text, size_t len) {
    abi::LogMessage m{};
    init_header(m);
    m.length = uint32_t(copy_text(m.text, sizeof m.text, text, len));
    out(abi::Hypercall::log, &m);
}

void send_progress(uint64_t done, uint64_t total) {
    abi::ProgressMessage m{};
    init_header(m);
    m.done = done;
    m.total = total;
    out(abi::Hypercall::progress, &m);
}

void fail(abi::GuestError code, const char* detail, size_t len) {
    abi::ErrorMessage m{};
    init_header(m);
    m.code = uint32_t(code);
    m.length = uint32_t(copy_text(m.detail, sizeof m.detail, detail, len));
    out(abi::Hypercall::error, &m);
    halt_forever();
}

void fail(abi::GuestError code, const char* detail) { fail(code, detail, strlen(detail)); }

void send_record(abi::OpId op, uint32_t kind, const void* record, size_t size) {
    if (size == 0 || size > sizeof g_records.payload) fail(abi::GuestError::internal, "record size out of range");
    bool fits = (size_t(g_records.count) + 1) * size <= sizeof g_records.payload;
    if (g_records.count && (g_records.op != uint32_t(op) || g_records.kind != kind || g_records.record_size != size || !fits))
        flush_records();
    g_records.op = uint32_t(op);
    g_records.kind = kind;
    g_records.record_size = uint32_t(size);
    memcpy(g_records.payload + size_t(g_records.count) * size, record, size);
    ++g_records.count;
}

void send_result(abi::OpId op, const void* payload, size_t size) {
    if (size > sizeof g_result.payload) fail(abi::GuestError::internal, "result too large");
    flush_records();
    init_header(g_result);
    g_result.op = uint32_t(op);
    g_result.payload_size = uint32_t(size);
    memcpy(g_result.payload, payload, size);
    out(abi::Hypercall::result, &g_result);
    halt_forever();
}

void send_exception(uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2) {
    abi::ExceptionMessage m{};
    init_header(m);
    m.vector = vector;
    m.error_code = error_code;
    m.rip = rip;
    m.cr2 = cr2;
    out(abi::Hypercall::exception, &m);
    halt_forever();
}

}  // namespace instar::guest
