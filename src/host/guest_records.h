// The lists an operation's guest sends as records (abi::RecordsMessage):
// only the kinds the operation declared, each with its exact record size
// and at most its declared count, so a hostile guest cannot make the host
// hold more than the declaration allows.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "host/error.h"
#include "host/guest_messages.h"

namespace instar {

struct RecordKind {
    uint32_t kind;
    uint32_t record_size;
    uint32_t max_count;
};

// Records of one kind, in the order the guest sent them.
struct RecordList {
    uint32_t kind = 0;
    uint32_t record_size = 0;
    std::vector<uint8_t> bytes;
    size_t count() const { return record_size ? bytes.size() / record_size : 0; }
    const uint8_t* at(size_t i) const { return bytes.data() + i * record_size; }
};

// A list's records as the structs of their kind (the collector has
// checked that list.record_size == sizeof(T)).
template <typename T>
std::vector<T> records_as(const RecordList& list) {
    if (list.record_size != sizeof(T)) throw Error("records have the wrong size for their kind");
    std::vector<T> out(list.count());
    if (!out.empty()) std::memcpy(out.data(), list.bytes.data(), out.size() * sizeof(T));
    return out;
}

class RecordCollector {
public:
    RecordCollector(uint32_t op, const std::vector<RecordKind>& kinds);

    // Throws GuestFault for another op, an undeclared kind, a wrong record
    // size or more records than declared.
    void add(uint32_t op, uint32_t kind, uint32_t record_size, uint32_t count, const uint8_t* bytes);
    void add(const GuestRecords& r) { add(r.op, r.kind, r.record_size, r.count, r.bytes.data()); }

    // One list per declared kind, in declaration order (empty when none came).
    std::vector<RecordList> take() { return std::move(lists_); }

private:
    uint32_t op_;
    std::vector<RecordKind> kinds_;
    std::vector<RecordList> lists_;
};

}  // namespace instar
