// Shared helpers for the vmdk emitter and probe tests: running the real
// qemu-img, temp dirs, requests, sinks that do not keep bytes.
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "abi/ops/create.h"
#include "formats/common/arena.h"
#include "formats/common/emitter.h"
#include "formats/common/image_io.h"
#include "memory_image.h"

namespace instar::testing::vmdk {

inline bool qemu_img_available() { return std::system("command -v qemu-img >/dev/null 2>&1") == 0; }

#define VMDK_REQUIRE_QEMU_IMG()                                                      \
    do {                                                                             \
        if (!::instar::testing::vmdk::qemu_img_available())                          \
            GTEST_SKIP() << "qemu-img not installed: it is the reference these "     \
                            "tests compare against (CI installs qemu-utils)";        \
    } while (0)

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

struct CommandResult {
    int status;  // exit code, or -1 when it did not exit normally
    std::string output;  // stdout and stderr
};

inline CommandResult run(const std::string& cmd) {
    CommandResult r{-1, {}};
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
    const int st = pclose(p);
    if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
    return r;
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/instar-vmdk-test-XXXXXX";
        const char* d = mkdtemp(tmpl);
        if (d != nullptr) path_ = d;
    }
    ~TempDir() {
        if (!path_.empty()) std::system(("rm -rf " + shell_quote(path_)).c_str());
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    bool ok() const { return !path_.empty(); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Writes bytes leaving all-zero 4 KiB blocks as holes, so multi-hundred-MiB
// mostly-empty images cost little disk and time.
inline bool write_sparse(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    bool ok = ftruncate(fileno(f), off_t(bytes.size())) == 0;
    constexpr size_t kBlock = 4096;
    static const uint8_t kZero[kBlock] = {};
    for (size_t off = 0; ok && off < bytes.size(); off += kBlock) {
        const size_t n = std::min(kBlock, bytes.size() - off);
        if (std::memcmp(bytes.data() + off, kZero, n) == 0) continue;
        ok = std::fseek(f, long(off), SEEK_SET) == 0 && std::fwrite(bytes.data() + off, 1, n, f) == n;
    }
    return std::fclose(f) == 0 && ok;
}

// The CID qemu wrote: the hex digits after "CID=" on the descriptor's third
// line (sector 1 of a sparse file).
inline bool qemu_cid(const std::vector<uint8_t>& image, uint32_t& cid) {
    static const char kPrefix[] = "# Disk DescriptorFile\nversion=1\nCID=";
    const size_t at = 512;
    if (image.size() < at + sizeof(kPrefix)) return false;
    if (std::memcmp(image.data() + at, kPrefix, sizeof(kPrefix) - 1) != 0) return false;
    size_t p = at + sizeof(kPrefix) - 1;
    uint64_t v = 0;
    size_t digits = 0;
    for (; p < image.size() && std::isxdigit(image[p]); ++p, ++digits) {
        v = v * 16 + uint64_t(std::isdigit(image[p]) ? image[p] - '0' : (image[p] | 0x20) - 'a' + 10);
    }
    if (digits == 0 || digits > 8 || p >= image.size() || image[p] != '\n') return false;
    cid = uint32_t(v);
    return true;
}

// A request as the host would resolve `qemu-img create -f vmdk NAME SIZE`
// with no options.
inline abi::CreateRequest default_request(uint64_t size, const char* image_name = "ref.vmdk") {
    abi::CreateRequest r;
    std::memset(&r, 0, sizeof(r));
    r.format = uint32_t(abi::ImageFormat::vmdk);
    r.flags = abi::kCreateHasSize;
    r.size = size;
    r.preallocation = uint32_t(abi::Preallocation::off);
    r.vmdk_subformat = uint32_t(abi::VmdkSubformat::monolithic_sparse);
    r.vmdk_adapter = uint32_t(abi::VmdkAdapter::ide);
    r.grain_size = 65536;
    r.backing_format = uint32_t(abi::BackingFormat::none);
    // Entropy beyond the CID bytes must not matter: make it noisy.
    for (size_t i = 0; i < abi::kEntropyBytes; ++i) r.entropy[i] = uint8_t(0xa5 ^ (i * 37));
    r.timestamp = 1700000000;
    std::snprintf(r.image_name, sizeof(r.image_name), "%s", image_name);
    return r;
}

inline void set_cid(abi::CreateRequest& r, uint32_t cid) {
    for (int i = 0; i < 4; ++i) r.entropy[i] = uint8_t(cid >> (8 * i));
}

// Scratch as the guest would give it.
struct Scratch {
    std::vector<uint8_t> mem = std::vector<uint8_t>(1 << 20);
    formats::Arena arena{mem.data(), mem.size()};
};

// Keeps no bytes: for sizes whose metadata would not fit in a test's memory.
class CountingSink : public formats::ImageSink {
public:
    uint64_t written = 0;
    uint64_t end = 0;  // highest byte written
    uint64_t size = 0;
    bool size_set = false;
    bool write(uint64_t offset, const void*, size_t len) override {
        written += len;
        end = std::max(end, offset + len);
        return true;
    }
    bool preallocate(uint64_t, uint64_t, bool) override { return true; }
    bool set_size(uint64_t s) override {
        size = s;
        size_set = true;
        return true;
    }
};

// A source that fails the test on any read reaching past the end of the
// file: probes must clamp their reads themselves.
class StrictSource : public formats::ImageSource {
public:
    std::vector<uint8_t> bytes;
    bool out_of_bounds = false;
    explicit StrictSource(std::vector<uint8_t> b) : bytes(std::move(b)) {}
    uint64_t size() const override { return bytes.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (offset > bytes.size() || len > bytes.size() - offset) {
            out_of_bounds = true;
            return false;
        }
        std::memcpy(buf, bytes.data() + offset, len);
        return true;
    }
};

// Reads a file on disk in place, for images too big to load.
class FileSource : public formats::ImageSource {
public:
    explicit FileSource(const std::string& path) {
        fd_ = open(path.c_str(), O_RDONLY);
        struct stat st;
        if (fd_ >= 0 && fstat(fd_, &st) == 0) size_ = uint64_t(st.st_size);
    }
    ~FileSource() override {
        if (fd_ >= 0) close(fd_);
    }
    bool ok() const { return fd_ >= 0; }
    uint64_t size() const override { return size_; }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (offset > size_ || len > size_ - offset) return false;
        return pread(fd_, buf, len, off_t(offset)) == ssize_t(len);
    }

private:
    int fd_ = -1;
    uint64_t size_ = 0;
};

// First differing offset, or -1.
inline long long first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return (long long)i;
    }
    return a.size() == b.size() ? -1 : (long long)n;
}

// "virtual-size": N from `qemu-img info --output=json`.
inline bool json_number(const std::string& json, const std::string& key, uint64_t& v) {
    const std::string k = "\"" + key + "\": ";
    const size_t p = json.find(k);
    if (p == std::string::npos) return false;
    v = std::strtoull(json.c_str() + p + k.size(), nullptr, 10);
    return true;
}

}  // namespace instar::testing::vmdk
