// Image bytes for the format fuzzers and their regression replay: an
// ImageSource over a fuzz input, and an ImageSink that keeps what an
// emitter writes within fixed bounds.
//
// A fuzz input is the image file itself, unless it starts with the 8 bytes
// "ISPARSE1". Then it describes a sparse file, so that images whose
// metadata sits megabytes apart (vhdx) or whose size is absurd (1 PB) stay
// a few KiB of input:
//
//   "ISPARSE1"  u64le file_size
//   then chunks: u64le offset, u32le length, `length` bytes
//
// Bytes not covered by a chunk read as zero; later chunks win; a chunk
// cut short by the end of the input keeps the bytes it has. Nothing here
// allocates per byte of file_size. scripts/fuzz-seeds writes qemu-made
// images in this form.
//
// The `info` targets also take several files in one input (a vmdk
// descriptor and its extent files), when it starts with "IFILES01":
//
//   "IFILES01"  then files: u32le length, `length` bytes (raw or sparse)
//
// the first being the image, the others the files it names, in order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "formats/common/image_io.h"

namespace instar::fuzz {

inline constexpr char kSparseMagic[8] = {'I', 'S', 'P', 'A', 'R', 'S', 'E', '1'};

inline uint64_t get_le(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

// Pieces of file content over a zero background.
class ChunkedFile {
public:
    struct Chunk {
        uint64_t offset;
        const uint8_t* data;
        uint64_t len;
    };

    void add(uint64_t offset, const uint8_t* data, uint64_t len) {
        if (len == 0) return;
        if (offset > UINT64_MAX - len) len = UINT64_MAX - offset;  // clip at the end of the address space
        chunks_.push_back({offset, data, len});
    }
    // Copies the bytes of [offset, offset+len) below `limit`; the rest zero.
    void read(uint64_t limit, uint64_t offset, void* buf, size_t len) const {
        std::memset(buf, 0, len);
        if (offset >= limit) return;
        const uint64_t end = offset + std::min<uint64_t>(len, limit - offset);
        for (const Chunk& c : chunks_) {
            const uint64_t lo = std::max(c.offset, offset);
            const uint64_t hi = std::min(c.offset + c.len, end);
            if (lo >= hi) continue;
            std::memcpy(static_cast<uint8_t*>(buf) + (lo - offset), c.data + (lo - c.offset), hi - lo);
        }
    }
    const std::vector<Chunk>& chunks() const { return chunks_; }
    void clear() { chunks_.clear(); }

private:
    std::vector<Chunk> chunks_;
};

// An ImageSource over a fuzz input (raw or sparse), without copying it.
class FuzzImage : public formats::ImageSource {
public:
    FuzzImage(const uint8_t* data, size_t size) {
        if (size >= 16 && std::memcmp(data, kSparseMagic, 8) == 0) {
            size_ = get_le(data + 8, 8);
            size_t pos = 16;
            while (size - pos >= 12) {
                const uint64_t offset = get_le(data + pos, 8);
                const uint64_t len = std::min<uint64_t>(get_le(data + pos + 8, 4), size - pos - 12);
                file_.add(offset, data + pos + 12, len);
                pos += 12 + size_t(len);
            }
        } else {
            size_ = size;
            file_.add(0, data, size);
        }
    }
    uint64_t size() const override { return size_; }
    bool read(uint64_t offset, void* buf, size_t len) override {
        ++reads_;
        file_.read(size_, offset, buf, len);
        return true;
    }
    uint64_t reads() const { return reads_; }

private:
    uint64_t size_ = 0;
    ChunkedFile file_;
    uint64_t reads_ = 0;
};

inline constexpr char kFilesMagic[8] = {'I', 'F', 'I', 'L', 'E', 'S', '0', '1'};

// The files of an input in the multi-file form (or the input as the one
// file); past the last file, further files are empty.
class FuzzFiles {
public:
    FuzzFiles(const uint8_t* data, size_t size) {
        if (size < 8 || std::memcmp(data, kFilesMagic, 8) != 0) {
            files_.push_back(std::make_unique<FuzzImage>(data, size));
            return;
        }
        size_t pos = 8;
        while (size - pos >= 4) {
            const size_t len = size_t(std::min<uint64_t>(get_le(data + pos, 4), size - pos - 4));
            files_.push_back(std::make_unique<FuzzImage>(data + pos + 4, len));
            pos += 4 + len;
        }
        if (files_.empty()) files_.push_back(std::make_unique<FuzzImage>(data, 0));
    }
    FuzzImage& image() { return *files_[0]; }
    // The i-th file the image names (0-based).
    FuzzImage& named(size_t i) { return i + 1 < files_.size() ? *files_[i + 1] : empty_; }

private:
    std::vector<std::unique_ptr<FuzzImage>> files_;
    FuzzImage empty_{nullptr, 0};
};

// An ImageSink with a fixed limit: it refuses (returns false) any write,
// preallocation or size beyond kMaxFileSize, so an emitter asked for a huge
// file fails cleanly instead of exhausting the fuzzer's memory and time.
// (Huge *virtual* sizes still go through whenever their metadata fits: a
// 1 PiB qcow2 is a few MiB of file.) Keeps the bytes written so the image
// can be read back.
class BoundedSink : public formats::ImageSink {
public:
    static constexpr uint64_t kMaxFileSize = 64ull << 20;
    static constexpr uint64_t kMaxWritten = kMaxFileSize;  // bytes actually kept

    bool write(uint64_t offset, const void* data, size_t len) override {
        ++calls;
        if (offset > kMaxFileSize || len > kMaxFileSize - offset || len > kMaxWritten - written) {
            refused = true;
            return false;
        }
        const auto* p = static_cast<const uint8_t*>(data);
        for (uint64_t done = 0; done < len;) {
            const uint64_t at = offset + done, in_page = at % kPageBytes;
            const uint64_t n = std::min<uint64_t>(len - done, kPageBytes - in_page);
            std::unique_ptr<uint8_t[]>& page = pages_[at / kPageBytes];
            if (!page) page = std::make_unique<uint8_t[]>(kPageBytes);  // zeroed
            std::memcpy(page.get() + in_page, p + done, n);
            done += n;
        }
        written += len;
        if (len) write_end = std::max(write_end, offset + len);
        return true;
    }
    bool preallocate(uint64_t offset, uint64_t len, bool) override {
        ++calls;
        if (offset > kMaxFileSize || len > kMaxFileSize - offset) {
            refused = true;
            return false;
        }
        prealloc_end = std::max(prealloc_end, offset + len);
        return true;
    }
    bool set_size(uint64_t s) override {
        ++calls;
        if (s > kMaxFileSize) {
            refused = true;
            return false;
        }
        size = s;
        size_set = true;
        return true;
    }

    // The image as the output file would hold it: what was written below
    // the final size, zeroes elsewhere.
    void read(uint64_t offset, void* buf, size_t len) const {
        auto* out = static_cast<uint8_t*>(buf);
        std::memset(out, 0, len);
        if (offset >= size) return;
        const uint64_t end = offset + std::min<uint64_t>(len, size - offset);
        for (uint64_t at = offset; at < end;) {
            const uint64_t in_page = at % kPageBytes, n = std::min<uint64_t>(end - at, kPageBytes - in_page);
            const auto it = pages_.find(at / kPageBytes);
            if (it != pages_.end()) std::memcpy(out + (at - offset), it->second.get() + in_page, n);
            at += n;
        }
    }

    uint64_t written = 0;       // bytes accepted by write()
    uint64_t write_end = 0;     // highest offset+len written
    uint64_t prealloc_end = 0;  // highest offset+len preallocated
    uint64_t size = 0;          // last set_size()
    bool size_set = false;
    bool refused = false;  // some call returned false
    uint64_t calls = 0;

private:
    static constexpr uint64_t kPageBytes = 4096;
    std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
};

// What an emitter wrote, read back through ImageSource as a probe would.
class SinkImage : public formats::ImageSource {
public:
    explicit SinkImage(const BoundedSink& sink) : sink_(sink) {}
    uint64_t size() const override { return sink_.size; }
    bool read(uint64_t offset, void* buf, size_t len) override {
        sink_.read(offset, buf, len);
        return true;
    }

private:
    const BoundedSink& sink_;
};

}  // namespace instar::fuzz
