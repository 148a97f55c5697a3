// An image seen with its format's checksums recomputed over the bytes as
// they are: vhdx headers, region tables and (non-wrapping) log entries,
// vpc footers. A fuzzer that changes a checksummed field almost never
// guesses the checksum too, so without this every change to a vhdx header
// or a vpc footer stops at the checksum check and the code behind it (log
// placement, region and metadata checks, footer geometry) sees only the
// seeds' values. The repaired image is just another image, so every
// invariant holds for it as for any other; a structure is repaired only
// where its signature is, so damaged signatures still go through as they
// are. Refusing a bad checksum is left to the probe targets, which see
// the bytes unrepaired.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "abi/ops/create.h"
#include "formats/common/image_io.h"
#include "formats/common/qemu_block_view.h"
#include "formats/vhdx/crc32c.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vpc/vpc_checksum.h"
#include "formats/vpc/vpc_layout.h"

namespace instar::fuzz {

class ChecksumRepairedImage : public formats::ImageSource {
public:
    ChecksumRepairedImage(formats::ImageSource& inner, abi::Format format) : inner_(inner) {
        if (format == abi::Format::vhdx) repair_vhdx();
        if (format == abi::Format::vpc) repair_vpc();
    }

    uint64_t size() const override { return inner_.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (!inner_.read(offset, buf, len)) return false;
        for (const Patch& p : patches_) {
            // Only below size(): past it everything reads as zero.
            if (p.offset >= size() || p.offset + 4 <= offset || p.offset >= offset + len) continue;
            for (uint64_t i = 0; i < 4; ++i) {
                const uint64_t at = p.offset + i;
                if (at >= offset && at < offset + len && at < size())
                    static_cast<uint8_t*>(buf)[at - offset] = uint8_t(p.value >> (8 * i));
            }
        }
        return true;
    }

private:
    // A checksum field: 4 bytes, little-endian as stored (vpc's big-endian
    // value is stored byte-swapped into `value`).
    struct Patch {
        uint64_t offset;
        uint32_t value;
    };

    std::vector<uint8_t> bytes(uint64_t offset, size_t len) {
        std::vector<uint8_t> b(len);
        inner_.read(offset, b.data(), len);
        return b;
    }

    static bool starts_with(const std::vector<uint8_t>& b, const uint8_t* sig, size_t n) {
        return b.size() >= n && std::memcmp(b.data(), sig, n) == 0;
    }

    // CRC-32C over `len` bytes at `offset` with the 4-byte field at
    // `field` (relative) taken as zero.
    uint32_t crc_at(uint64_t offset, size_t len, size_t field) {
        std::vector<uint8_t> b = bytes(offset, len);
        std::memset(b.data() + field, 0, 4);
        return formats::vhdx::crc32c(b.data(), b.size());
    }

    void repair_vhdx() {
        namespace v = formats::vhdx;
        // The log regions both headers name, as they read once repaired
        // (the checksum field is not among the fields read).
        std::vector<std::pair<uint64_t, uint32_t>> logs;
        for (uint64_t at : {v::kHeader1Offset, v::kHeader2Offset}) {
            const std::vector<uint8_t> h = bytes(at, v::kHeaderChecksummed);
            if (!starts_with(h, v::kHeaderSignature, sizeof v::kHeaderSignature)) continue;
            patches_.push_back({at + v::kHdChecksum, crc_at(at, v::kHeaderChecksummed, v::kHdChecksum)});
            uint64_t log_offset = 0;
            uint32_t log_length = 0;
            std::memcpy(&log_offset, h.data() + v::kHdLogOffset, 8);
            std::memcpy(&log_length, h.data() + v::kHdLogLength, 4);
            logs.push_back({log_offset, log_length});
        }
        for (uint64_t at : {v::kRegionTable1Offset, v::kRegionTable2Offset}) {
            const std::vector<uint8_t> head = bytes(at, sizeof v::kRegionSignature);
            if (!starts_with(head, v::kRegionSignature, sizeof v::kRegionSignature)) continue;
            patches_.push_back({at + v::kRtChecksum, crc_at(at, v::kRegionTableSize, v::kRtChecksum)});
        }
        for (const auto& [offset, length] : logs) repair_log(offset, length);
    }

    // Entries that lie whole inside the log (the search also follows
    // entries that wrap around its end; those keep their checksum). Only
    // the first kMaxLogScan bytes of a log are looked at, and entries
    // summing to log_budget_, to keep a run short whatever the file says.
    void repair_log(uint64_t offset, uint32_t length) {
        namespace v = formats::vhdx;
        constexpr uint32_t kMaxLogScan = 8u << 20;
        if (offset >= size() || offset % v::kLogSectorSize != 0) return;
        const uint32_t scan = length < kMaxLogScan ? length : kMaxLogScan;
        for (uint32_t at = 0; at + v::kLogSectorSize <= scan && offset + at < size(); at += v::kLogSectorSize) {
            const std::vector<uint8_t> s = bytes(offset + at, v::kLeEntryLength + 4);
            if (!starts_with(s, v::kLogEntrySignature, sizeof v::kLogEntrySignature)) continue;
            uint32_t entry_length = 0;
            std::memcpy(&entry_length, s.data() + v::kLeEntryLength, 4);
            if (entry_length == 0 || entry_length % v::kLogSectorSize != 0 || entry_length > length - at ||
                entry_length > log_budget_)
                continue;
            log_budget_ -= entry_length;
            patches_.push_back({offset + at + v::kLeChecksum, crc_at(offset + at, entry_length, v::kLeChecksum)});
        }
    }

    void repair_vpc() {
        namespace p = formats::vpc;
        // The footer copy at 0 (dynamic images) and the footer in the last
        // sector, where qemu looks for a fixed image's.
        const uint64_t length = formats::qemu_file_length(*this);
        for (uint64_t at : {uint64_t(0), length >= p::kFooterSize ? length - p::kFooterSize : uint64_t(0)}) {
            const std::vector<uint8_t> f = bytes(at, p::kFooterSize);
            if (!starts_with(f, p::kFooterCookie, sizeof p::kFooterCookie)) continue;
            const uint32_t sum = p::vhd_checksum(f.data(), f.size(), p::kFtChecksum);
            patches_.push_back({at + p::kFtChecksum, __builtin_bswap32(sum)});
        }
    }

    formats::ImageSource& inner_;
    std::vector<Patch> patches_;
    uint64_t log_budget_ = 8u << 20;  // bytes of log entries checksummed, per image
};

}  // namespace instar::fuzz
