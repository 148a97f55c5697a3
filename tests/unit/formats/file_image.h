// A file on disk as an ImageSource, and an ImageSink writing one: for
// images too large (or too sparse) to hold in memory.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/common/image_io.h"
#include "memory_image.h"

namespace instar::testing {

// What a read reaching past the end of the file does: read zeros there (as
// the host's block device does), or fail (so a test sees a probe that does
// not clamp its reads).
enum class PastEnd { zeros, fail };

class FileSource : public formats::ImageSource {
public:
    explicit FileSource(const std::string& path, PastEnd past_end = PastEnd::zeros)
        : fd_(open(path.c_str(), O_RDONLY)), past_end_(past_end) {
        struct stat st {};
        if (fd_ >= 0 && fstat(fd_, &st) == 0) size_ = uint64_t(st.st_size);
    }
    ~FileSource() override {
        if (fd_ >= 0) close(fd_);
    }
    FileSource(const FileSource&) = delete;
    FileSource& operator=(const FileSource&) = delete;
    bool ok() const { return fd_ >= 0; }
    uint64_t size() const override { return size_; }
    bool read(uint64_t offset, void* buf, size_t len) override {
        ++reads;
        if (past_end_ == PastEnd::fail) {
            if (offset > size_ || len > size_ - offset) return false;
            return pread(fd_, buf, len, off_t(offset)) == ssize_t(len);
        }
        std::memset(buf, 0, len);
        if (offset >= size_) return true;
        size_t n = size_t(std::min<uint64_t>(len, size_ - offset));
        return pread(fd_, buf, n, off_t(offset)) == ssize_t(n);
    }
    size_t reads = 0;

private:
    int fd_;
    PastEnd past_end_;
    uint64_t size_ = 0;
};

// Writes into a real (sparse) file.
class FileSink : public formats::ImageSink {
public:
    explicit FileSink(const std::string& path) : fd_(open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644)) {}
    ~FileSink() override {
        if (fd_ >= 0) close(fd_);
    }
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;
    bool ok() const { return fd_ >= 0; }
    uint64_t written = 0;
    std::vector<MemorySink::Prealloc> preallocations;

    bool write(uint64_t offset, const void* data, size_t len) override {
        written += len;
        return pwrite(fd_, data, len, off_t(offset)) == ssize_t(len);
    }
    bool preallocate(uint64_t offset, uint64_t len, bool full) override {
        preallocations.push_back({offset, len, full});
        return true;
    }
    bool set_size(uint64_t size) override { return ftruncate(fd_, off_t(size)) == 0; }

private:
    int fd_;
};

}  // namespace instar::testing
