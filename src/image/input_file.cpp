#include "image/input_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "host/error.h"

namespace instar::image {

InputFile::~InputFile() {
    if (fd_ >= 0) close(fd_);
}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        size_ = other.size_;
    }
    return *this;
}

uint64_t file_length(int fd, const struct stat& st) {
    if (!S_ISBLK(st.st_mode)) return uint64_t(st.st_size);
    const off_t end = lseek(fd, 0, SEEK_END);
    return end > 0 ? uint64_t(end) : 0;
}

InputFile open_input(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open '" + path + "'", errno);
    InputFile file(fd, 0);
    struct stat st;
    if (fstat(fd, &st) < 0) throw_errno("cannot open '" + path + "'", errno);
    if (S_ISDIR(st.st_mode)) throw Error("cannot open '" + path + "': Is a directory");
    return InputFile(std::exchange(file, InputFile()).take(), file_length(fd, st));
}

}  // namespace instar::image
