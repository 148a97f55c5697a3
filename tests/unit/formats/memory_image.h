// In-memory ImageSource / ImageSink for emitter and parser tests, and the
// scratch the guest would give them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/record_sink.h"
#include "support/files.h"

namespace instar::testing {

class MemorySink : public formats::ImageSink {
public:
    std::vector<uint8_t> bytes;
    uint64_t written = 0;
    struct Prealloc { uint64_t offset, len; bool full; };
    std::vector<Prealloc> preallocations;

    bool write(uint64_t offset, const void* data, size_t len) override {
        if (offset + len > bytes.size()) bytes.resize(offset + len);
        std::memcpy(bytes.data() + offset, data, len);
        written += len;
        return true;
    }
    bool preallocate(uint64_t offset, uint64_t len, bool full) override {
        preallocations.push_back({offset, len, full});
        return true;
    }
    bool set_size(uint64_t size) override {
        bytes.resize(size);
        return true;
    }
};

// The records a parser sends (in the guest they go to the host).
class CollectedRecords : public formats::RecordSink {
public:
    struct Record {
        uint32_t kind;
        std::vector<uint8_t> bytes;
    };
    std::vector<Record> records;

    void put(uint32_t kind, const void* record, size_t size) override {
        const auto* p = static_cast<const uint8_t*>(record);
        records.push_back({kind, std::vector<uint8_t>(p, p + size)});
    }

    // The records of one kind as their struct; a record of another size
    // is a parser bug, returned as nothing so the caller's counts fail.
    template <typename T, typename Kind>
    std::vector<T> of(Kind kind) const {
        std::vector<T> out;
        for (const Record& r : records) {
            if (r.kind != uint32_t(kind)) continue;
            if (r.bytes.size() != sizeof(T)) return {};
            T t;
            std::memcpy(&t, r.bytes.data(), sizeof t);
            out.push_back(t);
        }
        return out;
    }
};

class MemorySource : public formats::ImageSource {
public:
    std::vector<uint8_t> bytes;
    explicit MemorySource(std::vector<uint8_t> b) : bytes(std::move(b)) {}
    uint64_t size() const override { return bytes.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        std::memset(buf, 0, len);
        if (offset < bytes.size()) {
            size_t n = std::min<uint64_t>(len, bytes.size() - offset);
            std::memcpy(buf, bytes.data() + offset, n);
        }
        return true;
    }
};

// Keeps no bytes, only where writes land: for requests whose images would
// not fit in a test's memory.
class CountingSink : public formats::ImageSink {
public:
    uint64_t written = 0;  // bytes
    uint64_t writes = 0;   // calls
    uint64_t end = 0;      // highest byte written, plus one
    uint64_t size = 0;
    bool size_set = false;
    bool write(uint64_t offset, const void*, size_t len) override {
        written += len;
        ++writes;
        end = std::max(end, offset + len);
        return true;
    }
    bool preallocate(uint64_t, uint64_t, bool) override { return true; }
    bool set_size(uint64_t s) override {
        size = s;
        size_set = true;
        return true;
    }
};

// Scratch for the emitters and probes, as the guest would give it.
struct Scratch {
    std::vector<uint8_t> mem;
    formats::Arena arena;
    explicit Scratch(size_t bytes = 1 << 20) : mem(bytes), arena(mem.data(), mem.size()) {}
};

}  // namespace instar::testing
