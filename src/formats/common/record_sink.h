// Where a parser puts the entries of a list too long for its result struct
// (qcow2 snapshots, ...): in the guest each becomes a record message to the
// host (abi::RecordsMessage); native tests and fuzzers collect them.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats {

class RecordSink {
public:
    virtual void put(uint32_t kind, const void* record, size_t size) = 0;

    template <typename Kind, typename T>
    void add(Kind kind, const T& record) {
        put(uint32_t(kind), &record, sizeof record);
    }

protected:
    ~RecordSink() = default;
};

// For a caller that needs a parser's checks but not its lists.
class DiscardRecords final : public RecordSink {
public:
    void put(uint32_t, const void*, size_t) override {}
};

}  // namespace instar::formats
