// The qcow2 block reader on arbitrary file bytes (raw, or the sparse form
// of fuzz_image.h): opened twice on fresh scratch, block status walked
// from the start (a bounded number of runs) and a few reads made (of the
// first runs, and of the first compressed clusters: their decompression),
// twice over. What must hold: no crash (the sanitizers), every status code
// known, every run inside the disk and as long as it says, the same
// answers from both opens, and memory within the arena.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "format_checks.h"
#include "formats/qcow2/qcow2_reader.h"
#include "fuzz_image.h"
#include "fuzz_target.h"

namespace {

using instar::formats::BlockKind;
using instar::formats::BlockReader;
using instar::formats::BlockStatus;
using instar::formats::Status;

constexpr int kMaxRuns = 512;
constexpr size_t kReadBytes = 4096;
constexpr int kCompressedReads = 32;

struct Answers {
    Status open = Status::none;
    uint64_t virtual_size = 0;
    std::vector<uint64_t> runs;  // offset, bytes, kind, compressed, per run
    std::vector<uint8_t> reads;  // status, then bytes, per read
};

const char* walk(const uint8_t* data, size_t size, Answers& a) {
    instar::fuzz::FuzzImage image(data, size);
    instar::formats::Arena& arena = instar::fuzz::scratch().fresh();
    BlockReader* reader = nullptr;
    a.open = instar::formats::qcow2_open_reader({image, arena, nullptr, nullptr}, reader);
    if (!instar::fuzz::valid_status(a.open)) return "open returned an unknown status code";
    if (a.open != instar::formats::kOk) return nullptr;
    if (!reader) return "open succeeded without a reader";
    a.virtual_size = reader->virtual_size();
    uint64_t at = 0;
    int compressed_reads = 0;
    for (int i = 0; i < kMaxRuns && at < a.virtual_size; ++i) {
        BlockStatus s{};
        const Status st = reader->block_status(at, a.virtual_size - at, s);
        if (!instar::fuzz::valid_status(st)) return "block_status returned an unknown status code";
        a.runs.insert(a.runs.end(), {at, uint64_t(st), s.bytes, uint64_t(s.kind), uint64_t(s.compressed)});
        if (st != instar::formats::kOk) break;
        if (s.bytes == 0 || s.bytes > a.virtual_size - at) return "a run is empty or reaches past the disk";
        if (s.kind != BlockKind::data && s.kind != BlockKind::zero && s.kind != BlockKind::unallocated)
            return "a run of no known kind";
        if (s.compressed && s.kind != BlockKind::data) return "a compressed run that is not data";
        // A few bytes of each of the first runs and compressed clusters,
        // read twice over below.
        if (i < 8 || (s.compressed && compressed_reads++ < kCompressedReads)) {
            std::vector<uint8_t> buf(kReadBytes, 0xa5);
            const size_t n = s.bytes < kReadBytes ? size_t(s.bytes) : kReadBytes;
            const Status rs = reader->read(at, buf.data(), n);
            if (!instar::fuzz::valid_status(rs)) return "read returned an unknown status code";
            a.reads.push_back(uint8_t(rs));
            if (rs == instar::formats::kOk) {
                a.reads.insert(a.reads.end(), buf.begin(), buf.begin() + long(n));
                if (s.kind == BlockKind::zero || (s.kind == BlockKind::unallocated))
                    for (size_t k = 0; k < n; ++k)
                        if (buf[k] != 0) return "a zero or unallocated run (no backing file) read as non-zero";
            }
        }
        at += s.bytes;
    }
    return nullptr;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Answers first, second;
    instar::fuzz::require(walk(data, size, first));
    instar::fuzz::require(walk(data, size, second));
    if (first.open != second.open || first.virtual_size != second.virtual_size || first.runs != second.runs ||
        first.reads != second.reads)
        instar::fuzz::invariant_failed("the same bytes gave two different answers");
    instar::fuzz::scratch().fresh();
    return 0;
}
