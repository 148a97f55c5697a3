// What every writer fuzz target (fuzz_write_FORMAT) checks, once it has
// made a create request from the input's first bytes: the format's writer
// (FormatDriver::open_writer, what convert -O FORMAT writes with) may
// refuse the layout; once it accepts, every write the rest of the input
// makes in guest order (gap, length, fill byte) must succeed, the image
// must open with instar's own reader of the format at the writer's virtual
// size, and every byte read back must be the byte written (zero where
// nothing was).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/ops/create.h"
#include "formats/format_driver.h"
#include "fuzz_target.h"

namespace instar::fuzz {

class InputBytes {
public:
    InputBytes(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    uint8_t next() { return at_ < n_ ? d_[at_++] : 0; }
    bool empty() const { return at_ >= n_; }

private:
    const uint8_t* d_;
    size_t n_;
    size_t at_ = 0;
};

struct RoundTripLimits {
    uint64_t max_file;       // the sink refuses to grow past this
    size_t writer_scratch;   // the writer's arena
    uint64_t large_gap = 1;  // a gap byte counts sectors, or this many sectors when the next byte is odd
};

namespace detail {

// Writes into a buffer kept from run to run (its memory is reused, not
// faulted in again: files are tens of MiB).
class Sink : public formats::ImageSink {
public:
    Sink(std::vector<uint8_t>& b, uint64_t max) : bytes(b), max_(max) { bytes.clear(); }
    std::vector<uint8_t>& bytes;
    bool write(uint64_t offset, const void* data, size_t len) override {
        if (offset > max_ || len > max_ - offset) return false;
        if (offset + len > bytes.size()) bytes.resize(offset + len);
        std::memcpy(bytes.data() + offset, data, len);
        return true;
    }
    bool preallocate(uint64_t, uint64_t, bool) override { return true; }
    bool set_size(uint64_t size) override {
        if (size > max_) return false;
        bytes.resize(size);
        return true;
    }

private:
    uint64_t max_;
};

class Source : public formats::ImageSource {
public:
    explicit Source(const std::vector<uint8_t>& b) : b_(b) {}
    uint64_t size() const override { return b_.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        std::memset(buf, 0, len);
        if (offset < b_.size()) std::memcpy(buf, b_.data() + offset, std::min<uint64_t>(len, b_.size() - offset));
        return true;
    }

private:
    const std::vector<uint8_t>& b_;
};

}  // namespace detail

// The image in `file` opens with the format's reader at the size of
// `expect` and reads back as `expect`.
inline void check_reads_back(const formats::FormatDriver& driver, const std::vector<uint8_t>& file,
                             const std::vector<uint8_t>& expect) {
    detail::Source src(file);
    static std::vector<uint8_t> read_scratch(32u << 20);
    formats::Arena read_arena(read_scratch.data(), read_scratch.size());
    formats::BlockReader* reader = nullptr;
    if (driver.open_reader({src, read_arena, nullptr, nullptr}, reader) != formats::kOk)
        invariant_failed("the written image does not open");
    if (reader->virtual_size() != expect.size()) invariant_failed("virtual size differs");
    static std::vector<uint8_t> got;
    got.assign(expect.size(), 0xee);
    if (reader->read(0, got.data(), got.size()) != formats::kOk) invariant_failed("the written image does not read");
    if (got != expect) invariant_failed("read back differs from what was written");
}

// `compressed`: the writes come as convert -c sends them, through
// write_compressed, a whole cluster at a time (the disk's last one short)
// with gaps of whole clusters, each cluster's sectors filled with a
// stepping byte so that some shrink and some do not.
inline void check_writer_round_trip(const abi::CreateRequest& req, InputBytes& in, const RoundTripLimits& limits,
                                    bool compressed = false) {
    const formats::FormatDriver* driver = formats::format_driver(abi::Format(req.format));
    if (!driver || !driver->open_writer) invariant_failed("no writer for the format");
    static std::vector<uint8_t> scratch;
    scratch.resize(limits.writer_scratch);
    formats::Arena arena(scratch.data(), scratch.size());
    static std::vector<uint8_t> file;
    detail::Sink sink(file, limits.max_file);
    formats::ImageWriter* w = nullptr;
    if (driver->open_writer({req, req.size, sink, arena, compressed}, w) != formats::kOk) return;
    if (w->virtual_size() < req.size) invariant_failed("the image is smaller than asked");
    const uint64_t cluster = w->cluster_size();
    if (compressed && cluster == 0) invariant_failed("compressed writes without a cluster size");

    static std::vector<uint8_t> expect;
    expect.assign(w->virtual_size(), 0);
    uint64_t at = 0;
    for (size_t i = 0; i < 64 && !in.empty(); ++i) {
        formats::Status st;
        if (compressed) {
            at += in.next() % 4 * cluster;
            if (at >= expect.size()) break;
            const uint64_t n = std::min<uint64_t>(cluster, expect.size() - at);
            const uint8_t fill = in.next(), step = in.next();
            for (uint64_t k = 0; k < n; ++k) expect[at + k] = uint8_t(fill + k / 512 * step);
            st = w->write_compressed(at, expect.data() + at, n);
            at += n;
        } else {
            const uint64_t gap = in.next();
            at += gap * 512 * (in.next() % 2 ? limits.large_gap : 1);
            const uint64_t len = (uint64_t(in.next()) + 1) * 512 * (1 + in.next() % 8);
            const uint8_t fill = in.next() | 1;
            if (at >= expect.size()) break;
            const uint64_t n = std::min<uint64_t>(len, expect.size() - at);
            std::memset(expect.data() + at, fill, n);
            st = w->write(at, expect.data() + at, n);
            at += n;
        }
        if (st != formats::kOk) invariant_failed("a write into an accepted layout failed");
    }
    if (w->finish() != formats::kOk) invariant_failed("finish failed");
    if (sink.bytes.size() != w->file_size()) invariant_failed("file size differs from the writer's");
    check_reads_back(*driver, sink.bytes, expect);
}

}  // namespace instar::fuzz
