// Whole files and ranges of files, for the tests' reference images.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace instar::testing {

inline std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline bool write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return std::fclose(f) == 0 && ok;
}

inline uint64_t file_size(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

// `len` bytes at `offset`; what the file does not hold reads as zero.
inline std::vector<uint8_t> read_range(const std::string& path, uint64_t offset, size_t len) {
    std::vector<uint8_t> buf(len, 0);
    int fd = open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
        ssize_t got = pread(fd, buf.data(), len, off_t(offset));
        (void)got;
        close(fd);
    }
    return buf;
}

inline bool write_range(const std::string& path, uint64_t offset, const std::vector<uint8_t>& data) {
    int fd = open(path.c_str(), O_WRONLY);
    if (fd < 0) return false;
    bool ok = pwrite(fd, data.data(), data.size(), off_t(offset)) == ssize_t(data.size());
    return close(fd) == 0 && ok;
}

}  // namespace instar::testing
