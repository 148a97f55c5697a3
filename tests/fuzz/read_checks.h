// What the vpc, vhdx and vmdk block readers (convert's read side) must hold on
// arbitrary file bytes, for their fuzz targets: each input is read through
// ChecksumRepairedImage (so damage reaches past the footer and header
// checksums) and opened twice on fresh scratch; block status is walked
// from the start (a bounded number of runs), the first bytes of the first
// runs and a few places spread over the disk are read. What must hold: no
// crash (the sanitizers), every status code known, every run inside the
// disk and as long as it says, no read past the end of the file once the
// reader is open, zero runs read as zeroes, the format's own rules for
// runs (below), and the same answers from both opens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/format.h"
#include "checksum_repair.h"
#include "format_checks.h"
#include "formats/block/block_reader.h"
#include "formats/common/qemu_block_view.h"
#include "fuzz_image.h"

namespace instar::fuzz {

// The file, refusing (and remembering) any read past its end once
// `strict` is set: a reader must clamp every offset an image names. The
// open checks before may ask for whole windows there (zeroes, as the
// guest's device gives them).
class EndGuard : public formats::ImageSource {
public:
    explicit EndGuard(formats::ImageSource& inner) : inner_(inner) {}
    uint64_t size() const override { return inner_.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (strict && (offset > size() || len > size() - offset)) {
            outside = true;
            return false;
        }
        return inner_.read(offset, buf, len);
    }
    bool strict = false;
    bool outside = false;

private:
    formats::ImageSource& inner_;
};

struct ReadAnswers {
    Status open = Status::none;
    uint64_t virtual_size = 0;
    std::vector<uint64_t> runs;  // offset, status, bytes, kind, host offset, per run
    std::vector<uint8_t> reads;  // status, then bytes, per read
};

// A run as the format makes them: vpc's data lies in the file (a fixed
// disk's at its own offset, a dynamic disk's blocks inside the file, as
// the open checks), its zeroes past a fixed disk's file or nowhere; vhdx
// has one data run from the offset asked to the end, without an offset
// (qemu's block layer's answer for a driver without block status).
inline const char* check_run(abi::Format format, formats::ImageSource& file, uint64_t at, uint64_t max,
                             const formats::BlockStatus& s) {
    using formats::BlockKind;
    if (s.compressed) return "a compressed run";
    // vmdk: one grain at a time (qemu's vmdk_co_block_status); its grain
    // tables may point anywhere, past the file too (that reads zeroes).
    if (format == abi::Format::vmdk) {
        if (s.kind != BlockKind::data && s.has_host_offset) return "a vmdk run without data with an offset";
        return nullptr;
    }
    if (s.kind == BlockKind::unallocated) return "an unallocated run in a format without backing files";
    if (format == abi::Format::vhdx) {
        if (s.kind != BlockKind::data || s.has_host_offset || s.bytes != max)
            return "a vhdx run that is not data to the end without an offset";
        return nullptr;
    }
    const uint64_t file_end = formats::qemu_file_length(file);
    if (s.kind == BlockKind::data) {
        if (!s.has_host_offset) return "a vpc data run without an offset";
        if (s.host_offset > file_end || s.bytes > file_end - s.host_offset) return "a vpc data run past the file";
    } else if (s.has_host_offset && (s.host_offset != at || s.host_offset < file.size())) {
        return "a vpc zero run with an offset that is not a fixed disk's past its file";
    }
    return nullptr;
}

inline const char* read_once(abi::Format format, formats::OpenReaderFn open, const uint8_t* data, size_t size,
                             ReadAnswers& a) {
    constexpr int kMaxRuns = 512;
    constexpr int kReadRuns = 8;
    constexpr int kSpread = 16;
    constexpr size_t kReadBytes = 4096;
    FuzzImage image(data, size);
    ChecksumRepairedImage repaired(image, format);
    EndGuard file(repaired);
    formats::BlockReader* reader = nullptr;
    a.open = open({file, scratch().fresh(), nullptr, nullptr}, reader);
    if (!valid_status(a.open)) return "open returned an unknown status code";
    if (a.open != formats::kOk) return nullptr;
    if (!reader) return "open succeeded without a reader";
    file.strict = true;
    a.virtual_size = reader->virtual_size();
    if (a.virtual_size % formats::kQemuSectorSize != 0) return "a disk that is not whole sectors";

    std::vector<uint8_t> buf(kReadBytes);
    auto read_at = [&](uint64_t at, size_t n, bool zeroes) -> const char* {
        std::memset(buf.data(), 0xa5, n);
        const Status rs = reader->read(at, buf.data(), n);
        if (!valid_status(rs) || rs == Status::internal) return "read returned an unknown or internal status";
        a.reads.push_back(uint8_t(rs));
        if (rs != formats::kOk) return nullptr;
        a.reads.insert(a.reads.end(), buf.begin(), buf.begin() + long(n));
        if (zeroes)
            for (size_t k = 0; k < n; ++k)
                if (buf[k] != 0) return "a zero run read as non-zero";
        return nullptr;
    };

    uint64_t at = 0;
    for (int i = 0; i < kMaxRuns && at < a.virtual_size; ++i) {
        formats::BlockStatus s{};
        const uint64_t max = a.virtual_size - at;
        const Status st = reader->block_status(at, max, s);
        if (!valid_status(st) || st == Status::internal) return "block_status returned an unknown or internal status";
        a.runs.insert(a.runs.end(), {at, uint64_t(st), s.bytes, uint64_t(s.kind), s.host_offset});
        if (st != formats::kOk) break;
        if (s.bytes == 0 || s.bytes > max) return "a run is empty or reaches past the disk";
        if (const char* bad = check_run(format, file, at, max, s)) return bad;
        if (i < kReadRuns) {
            const size_t n = s.bytes < kReadBytes ? size_t(s.bytes) : kReadBytes;
            // Without a backing file, unallocated space reads as zeroes too.
            if (const char* bad = read_at(at, n, s.kind != formats::BlockKind::data)) return bad;
        }
        at += s.bytes;
    }
    // Places spread over the disk (vhdx has one run, whatever its BAT).
    for (uint64_t k = 1; k < kSpread; ++k) {
        const uint64_t place = a.virtual_size / kSpread * k / formats::kQemuSectorSize * formats::kQemuSectorSize;
        const size_t n = a.virtual_size - place < kReadBytes ? size_t(a.virtual_size - place) : kReadBytes;
        if (n == 0) continue;
        if (const char* bad = read_at(place, n, false)) return bad;
    }
    if (file.outside) return "a read past the end of the file";
    return nullptr;
}

// The whole check for one input; nullptr when everything held.
inline const char* check_read(abi::Format format, formats::OpenReaderFn open, const uint8_t* data, size_t size) {
    ReadAnswers first, second;
    if (const char* bad = read_once(format, open, data, size, first)) return bad;
    if (const char* bad = read_once(format, open, data, size, second)) return bad;
    scratch().fresh();
    if (first.open != second.open || first.virtual_size != second.virtual_size || first.runs != second.runs ||
        first.reads != second.reads)
        return "the same bytes gave two different answers";
    return nullptr;
}

}  // namespace instar::fuzz
