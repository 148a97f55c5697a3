#include "host/guest_records.h"

#include "host/guest_fault.h"

namespace instar {

RecordCollector::RecordCollector(uint32_t op, const std::vector<RecordKind>& kinds) : op_(op), kinds_(kinds) {
    for (const RecordKind& k : kinds_) lists_.push_back(RecordList{k.kind, k.record_size, {}});
}

void RecordCollector::add(uint32_t op, uint32_t kind, uint32_t record_size, uint32_t count, const uint8_t* bytes) {
    if (op != op_) throw GuestFault("records are for another operation");
    for (size_t i = 0; i < kinds_.size(); ++i) {
        if (kinds_[i].kind != kind) continue;
        if (record_size != kinds_[i].record_size) throw GuestFault("records have the wrong size for their kind");
        RecordList& list = lists_[i];
        if (count > kinds_[i].max_count - list.count()) throw GuestFault("more records than the operation allows");
        list.bytes.insert(list.bytes.end(), bytes, bytes + size_t(count) * record_size);
        return;
    }
    throw GuestFault("records of a kind the operation does not use");
}

}  // namespace instar
