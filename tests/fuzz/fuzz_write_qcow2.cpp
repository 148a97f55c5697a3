// The qcow2 writer (convert -O qcow2) on arbitrary layouts and writes: the
// input's first bytes choose the image (cluster size, refcount width,
// version, extended L2, preallocation, size), the rest a series of writes
// in guest order (gap, length, fill byte). The writer may refuse a layout;
// once it accepts, every write must succeed, the image must open with
// instar's own qcow2 reader, and every byte read back must be the byte
// written (zero where nothing was).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/ops/create.h"
#include "formats/qcow2/qcow2_options.h"
#include "formats/qcow2/qcow2_reader.h"
#include "formats/qcow2/qcow2_writer.h"
#include "fuzz_target.h"

namespace {

namespace q = instar::formats::qcow2;
using instar::formats::Status;

constexpr uint64_t kMaxSize = 4u << 20;
constexpr size_t kMaxWrites = 64;

class Bytes {
public:
    Bytes(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    uint8_t next() { return at_ < n_ ? d_[at_++] : 0; }
    bool empty() const { return at_ >= n_; }

private:
    const uint8_t* d_;
    size_t n_;
    size_t at_ = 0;
};

class Sink : public instar::formats::ImageSink {
public:
    std::vector<uint8_t> bytes;
    bool write(uint64_t offset, const void* data, size_t len) override {
        if (offset + len > (256u << 20)) return false;
        if (offset + len > bytes.size()) bytes.resize(offset + len);
        std::memcpy(bytes.data() + offset, data, len);
        return true;
    }
    bool preallocate(uint64_t, uint64_t, bool) override { return true; }
    bool set_size(uint64_t size) override {
        if (size > (256u << 20)) return false;
        bytes.resize(size);
        return true;
    }
};

class Source : public instar::formats::ImageSource {
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Bytes in(data, size);
    instar::abi::CreateRequest req{};
    req.format = uint32_t(instar::abi::Format::qcow2);
    const uint8_t shape = in.next();
    req.cluster_size = 512u << (in.next() % 13);
    req.refcount_bits = 1u << (in.next() % 7);
    req.qcow2_version = shape & 1 ? 2 : 3;
    req.flags = instar::abi::kCreateHasSize | (shape & 2 ? instar::abi::kCreateExtendedL2 : 0);
    req.preallocation = shape & 4 ? (shape >> 3) % 4 : 0;
    req.size = (uint64_t(in.next()) << 16 | uint64_t(in.next()) << 8) % kMaxSize / 512 * 512 + 512;
    q::CreateParams params{};
    if (q::parse_create_request(req, req.size, params) != instar::formats::kOk) return 0;

    static std::vector<uint8_t> scratch(48u << 20);
    instar::formats::Arena arena(scratch.data(), scratch.size());
    Sink sink;
    q::Writer w;
    if (w.open(params, arena, sink) != instar::formats::kOk) return 0;

    std::vector<uint8_t> expect(req.size, 0);
    uint64_t at = 0;
    for (size_t i = 0; i < kMaxWrites && !in.empty(); ++i) {
        at += uint64_t(in.next()) * 512;
        const uint64_t len = (uint64_t(in.next()) + 1) * 512 * (1 + in.next() % 8);
        const uint8_t fill = in.next() | 1;
        if (at >= req.size) break;
        const uint64_t n = std::min<uint64_t>(len, req.size - at);
        std::memset(expect.data() + at, fill, n);
        if (w.write(at, expect.data() + at, n) != instar::formats::kOk)
            instar::fuzz::invariant_failed("a write into an accepted layout failed");
        at += n;
    }
    if (w.finish() != instar::formats::kOk) instar::fuzz::invariant_failed("finish failed");
    if (sink.bytes.size() != w.file_size()) instar::fuzz::invariant_failed("file size differs from the writer's");

    Source src(sink.bytes);
    static std::vector<uint8_t> read_scratch(32u << 20);
    instar::formats::Arena read_arena(read_scratch.data(), read_scratch.size());
    instar::formats::BlockReader* reader = nullptr;
    if (instar::formats::qcow2_open_reader({src, read_arena, nullptr, nullptr}, reader) != instar::formats::kOk)
        instar::fuzz::invariant_failed("the written image does not open");
    if (reader->virtual_size() != req.size) instar::fuzz::invariant_failed("virtual size differs");
    std::vector<uint8_t> got(req.size, 0xee);
    if (reader->read(0, got.data(), got.size()) != instar::formats::kOk)
        instar::fuzz::invariant_failed("the written image does not read");
    if (got != expect) instar::fuzz::invariant_failed("read back differs from what was written");
    return 0;
}
