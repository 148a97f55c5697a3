// A file an operation reads, open read-only for as long as this object
// lives: the command line's images, and the backing and extent files the
// image session opens beneath the allowlist.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>

namespace instar::image {

class InputFile {
public:
    InputFile() = default;
    // Takes `fd` (closed with this object); `size` is the file's length.
    InputFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
    ~InputFile();
    InputFile(InputFile&& other) noexcept : fd_(other.fd_), size_(other.size_) { other.fd_ = -1; }
    InputFile& operator=(InputFile&& other) noexcept;
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }
    bool is_open() const { return fd_ >= 0; }
    // Gives up the descriptor (the caller closes it).
    int take() { return std::exchange(fd_, -1); }

private:
    int fd_ = -1;
    uint64_t size_ = 0;
};

// The length of the open file `fd` (described by `st`): its size, or for a
// block device the length of the device.
uint64_t file_length(int fd, const struct stat& st);

// Opens a file named on the command line read-only, whatever kind of file
// it is but a directory; fails with "cannot open 'PATH': REASON" (errno
// is left as the failing call set it).
InputFile open_input(const std::string& path);

}  // namespace instar::image
