#include "guest/hypercall.h"

#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/platform.h"

namespace instar::guest {
namespace {

void out(abi::Hypercall h, const void* message) {
    platform::hypercall(abi::hypercall_port(h), platform::gpa_of(message));
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

// The result and records messages are large: not on the stack, but in
// guest RAM the host can read on every platform (a process platform's .bss
// is not), reserved from the heap before the op runs so that a full heap
// cannot stop the result.
struct LargeMessages {
    abi::ResultMessage result;
    abi::RecordsMessage records;
};
LargeMessages* g_messages = nullptr;

void flush_records() {
    if (!g_messages) return;
    if (g_messages->records.count == 0) return;
    init_header(g_messages->records);
    out(abi::Hypercall::records, &g_messages->records);
    g_messages->records.count = 0;
}

}  // namespace

bool reserve_message_buffers() {
    g_messages = static_cast<LargeMessages*>(heap().alloc(sizeof(LargeMessages), 16));
    return g_messages != nullptr;
}

void halt_forever() { platform::halt(); }

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
    if (!g_messages) fail(abi::GuestError::internal, "message buffers not reserved");
    if (size == 0 || size > sizeof g_messages->records.payload) fail(abi::GuestError::internal, "record size out of range");
    bool fits = (size_t(g_messages->records.count) + 1) * size <= sizeof g_messages->records.payload;
    if (g_messages->records.count && (g_messages->records.op != uint32_t(op) || g_messages->records.kind != kind || g_messages->records.record_size != size || !fits))
        flush_records();
    g_messages->records.op = uint32_t(op);
    g_messages->records.kind = kind;
    g_messages->records.record_size = uint32_t(size);
    memcpy(g_messages->records.payload + size_t(g_messages->records.count) * size, record, size);
    ++g_messages->records.count;
}

void send_result(abi::OpId op, const void* payload, size_t size) {
    if (!g_messages) fail(abi::GuestError::internal, "message buffers not reserved");
    if (size > sizeof g_messages->result.payload) fail(abi::GuestError::internal, "result too large");
    flush_records();
    init_header(g_messages->result);
    g_messages->result.op = uint32_t(op);
    g_messages->result.payload_size = uint32_t(size);
    memcpy(g_messages->result.payload, payload, size);
    out(abi::Hypercall::result, &g_messages->result);
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
