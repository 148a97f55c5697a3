#include "formats/vhdx/vhdx_log.h"

#include "formats/common/endian.h"
#include "formats/common/qemu_block_view.h"
#include "formats/vhdx/crc32c.h"
#include "formats/vhdx/vhdx_layout.h"

namespace instar::formats::vhdx {

namespace {

constexpr uint32_t kWindowBytes = 64 * 1024;

bool same(const uint8_t* a, const uint8_t* b, size_t n) { return __builtin_memcmp(a, b, n) == 0; }

// Sectors of the log by their byte index in it, read a window at a time,
// with a budget of visits that keeps hostile logs from making the search
// quadratic or endless. Sectors past the end of the file read as zeros;
// once one is, all are up to the end of the log, and such runs are taken
// whole (a 4 GiB log costs nothing when it is not in the file).
class LogReader {
public:
    LogReader(ImageSource& src, uint8_t* window, uint64_t offset, uint32_t length)
        : src_(src), window_(window), offset_(offset), length_(length) {
        budget_ = 4 * (uint64_t(length) / kLogSectorSize) + 1024;
    }

    uint32_t length() const { return length_; }
    uint32_t advance(uint32_t at, uint64_t sectors) const {
        uint64_t n = uint64_t(at) + sectors * kLogSectorSize;
        return n >= length_ ? 0 : uint32_t(n);
    }

    // The sector at `at`, which lies inside the file.
    Status sector(uint32_t at, const uint8_t*& out) {
        if (Status s = spend(); s != kOk) return s;
        uint64_t file_at = offset_ + at;
        // qemu reads sector by sector: each read its block layer refuses
        // fails the open.
        if (!qemu_can_read(file_at, kLogSectorSize)) return Status::image_invalid;
        if (!loaded_ || at < start_ || at - start_ >= loaded_len_) {
            uint64_t len = length_ - at < kWindowBytes ? length_ - at : kWindowBytes;
            if (len > kQemuMaxLength - file_at) len = kQemuMaxLength - file_at;
            if (!qemu_read(src_, file_at, window_, size_t(len))) return Status::read_failed;
            start_ = at;
            loaded_len_ = uint32_t(len);
            loaded_ = true;
        }
        out = window_ + (at - start_);
        return kOk;
    }

    // How many sectors from `at` on (at most `limit`) lie past the end of
    // the file: zeros, without a read. Whether qemu could read all of them
    // is decided by the last.
    Status zero_run(uint32_t at, uint64_t limit, uint64_t& n) {
        n = 0;
        if (offset_ + at < src_.size()) return kOk;
        if (Status s = spend(); s != kOk) return s;
        uint64_t to_end = (uint64_t(length_) - at) / kLogSectorSize;
        n = to_end < limit ? to_end : limit;
        if (!qemu_can_read(offset_ + at + (n - 1) * kLogSectorSize, kLogSectorSize)) return Status::image_invalid;
        return kOk;
    }

private:
    Status spend() {
        if (budget_ == 0) return Status::unsupported_feature;
        --budget_;
        return kOk;
    }

    ImageSource& src_;
    uint8_t* window_;
    uint64_t offset_;
    uint32_t length_;
    uint64_t budget_;
    bool loaded_ = false;
    uint32_t start_ = 0;
    uint32_t loaded_len_ = 0;
};

bool descriptor_ok(const uint8_t* d, uint64_t sequence) {
    if (load_le64(d + kLdSequence) != sequence) return false;
    if (load_le64(d + kLdFileOffset) % kLogSectorSize != 0) return false;
    if (same(d + kLdSignature, kLogZeroSignature, 4)) return load_le64(d + kLdZeroLength) % kLogSectorSize == 0;
    return same(d + kLdSignature, kLogDescSignature, 4);
}

// One entry at `read`, which moves past what qemu consumed: one sector when
// the header does not qualify, otherwise the descriptor and data sectors.
// `prev` (0: any) is the sequence number the entry must follow. The caller
// has made sure the header sector lies inside the file.
Status check_entry(LogReader& log, uint32_t& read, uint64_t prev, const uint8_t* guid, bool& valid,
                   uint64_t& sequence) {
    valid = false;
    const uint8_t* s = nullptr;
    if (Status st = log.sector(read, s); st != kOk) return st;
    uint32_t entry_length = load_le32(s + kLeEntryLength);
    uint32_t count = load_le32(s + kLeDescriptorCount);
    sequence = load_le64(s + kLeSequence);
    bool header_ok = same(s + kLeSignature, kLogEntrySignature, 4) && entry_length <= log.length() &&
                     entry_length % kLogSectorSize == 0 && sequence != 0 && same(s + kLeLogGuid, guid, kGuidSize) &&
                     uint64_t(count) * kLogDescriptorSize <= entry_length;
    if (!header_ok || (prev > 0 && sequence != prev + 1)) {
        read = log.advance(read, 1);
        return kOk;
    }
    uint32_t stored = load_le32(s + kLeChecksum);

    // Descriptors follow the header. qemu 7.2 reads an entry's descriptor
    // sectors all into the first sector of its buffer (its sector reader
    // never moves on in the buffer), so beyond the 126 that fit next to the
    // header it checks uninitialised memory: never a valid descriptor in
    // practice, and a malformed descriptor fails its whole search. Hence
    // such entries fail qemu's open, whatever they hold.
    constexpr uint32_t kInHeaderSector = (kLogSectorSize - kLogEntryHeaderSize) / kLogDescriptorSize;
    if (count > kInHeaderSector) return Status::image_invalid;
    for (uint32_t i = 0; i < count; ++i) {
        if (!descriptor_ok(s + kLogEntryHeaderSize + size_t(i) * kLogDescriptorSize, sequence)) {
            return Status::image_invalid;
        }
    }
    // The checksum runs over the header sector (its own field as zero) and
    // on over the data sectors.
    Crc32c crc;
    crc.update(s, kLeChecksum);
    crc.update_zeros(4);
    crc.update(s + kLeChecksum + 4, kLogSectorSize - kLeChecksum - 4);
    read = log.advance(read, 1);
    uint64_t total_sectors = entry_length / kLogSectorSize;
    for (uint64_t k = 1; k < total_sectors;) {
        uint64_t zeros = 0;
        if (Status st = log.zero_run(read, total_sectors - k, zeros); st != kOk) return st;
        if (zeros != 0) {
            crc.update_zeros(zeros * kLogSectorSize);
            read = log.advance(read, zeros);
            k += zeros;
            continue;
        }
        if (Status st = log.sector(read, s); st != kOk) return st;
        crc.update(s, kLogSectorSize);
        read = log.advance(read, 1);
        ++k;
    }
    valid = crc.value() == stored;
    return kOk;
}

}  // namespace

Status search_log(ImageSource& src, Arena& arena, uint64_t log_offset, uint32_t log_length, const uint8_t* log_guid) {
    uint8_t* window = static_cast<uint8_t*>(arena.alloc(kWindowBytes, 16, false));
    if (window == nullptr) return Status::out_of_memory;
    LogReader log(src, window, log_offset, log_length);

    // qemu's walk: from the start, sector by sector, follow every chain of
    // valid entries with consecutive sequence numbers, until the read
    // position wraps. Any valid entry means a log to replay, but qemu only
    // says so once the whole walk has succeeded.
    bool found = false;
    uint32_t read = 0;
    for (;;) {
        // From a sector past the end of the file on, every header is zeros
        // and the walk steps one sector at a time to the wrap, its end.
        uint64_t zeros = 0;
        if (Status st = log.zero_run(read, UINT64_MAX, zeros); st != kOk) return st;
        if (zeros != 0) break;

        uint32_t tail = read;
        bool valid = false;
        uint64_t sequence = 0;
        if (Status st = check_entry(log, read, 0, log_guid, valid, sequence); st != kOk) return st;
        if (valid) {
            found = true;
            // qemu's chain starts with no sequence to follow (its counter is
            // only set from the second entry on).
            uint64_t prev = 0;
            for (;;) {
                if (Status st = log.zero_run(read, 1, zeros); st != kOk) return st;
                if (zeros != 0) {
                    read = log.advance(read, 1);
                    break;
                }
                if (Status st = check_entry(log, read, prev, log_guid, valid, sequence); st != kOk) return st;
                if (!valid) break;
                prev = sequence;
            }
        }
        if (read < tail) break;
    }
    return found ? Status::unsupported_feature : kOk;
}

}  // namespace instar::formats::vhdx
