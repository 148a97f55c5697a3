// Shared by the vpc and vhdx tests: running the real qemu-img, a sink that
// keeps only what was written (so multi-TiB images cost nothing), and a
// comparison of an emitted image against a qemu-made file that reads only
// the parts either side actually holds.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "abi/ops/create.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/probe.h"

namespace instar::testing::vv {

inline std::string qemu_tool(const char* name) {
    std::string fixed = std::string("/usr/bin/") + name;
    if (access(fixed.c_str(), X_OK) == 0) return fixed;
    std::string cmd = std::string("command -v ") + name + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return {};
    char buf[512] = {};
    std::string out = fgets(buf, sizeof buf, p) ? buf : "";
    pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

inline const std::string& qemu_img() {
    static const std::string path = qemu_tool("qemu-img");
    return path;
}

#define INSTAR_REQUIRE_QEMU_IMG()                                                          \
    do {                                                                                   \
        if (::instar::testing::vv::qemu_img().empty())                                     \
            GTEST_SKIP() << "qemu-img not installed: the reference images come from it"; \
    } while (0)

struct RunResult {
    int status;  // exit code, -1 if the command could not run
    std::string output;
};

inline RunResult run(const std::string& cmd) {
    RunResult r{-1, {}};
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

inline std::string quote(const std::string& s) { return "'" + s + "'"; }

class TempDir {
public:
    TempDir() {
        const char* base = getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/instar-vv-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
    }
    ~TempDir() {
        if (!path_.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(path_, ec);
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    bool ok() const { return !path_.empty(); }

private:
    std::string path_;
};

// Keeps each write separately; unwritten bytes read as zero.
class SparseSink : public formats::ImageSink {
public:
    std::map<uint64_t, std::vector<uint8_t>> writes;
    uint64_t size = 0;
    bool size_set = false;
    bool overlapping = false;  // some byte written twice
    bool out_of_order = false; // a write below an earlier one
    uint64_t preallocated = 0;

    bool write(uint64_t offset, const void* data, size_t len) override {
        if (len == 0) return true;
        if (!writes.empty()) {
            auto last = std::prev(writes.end());
            if (offset < last->first) out_of_order = true;
        }
        auto next = writes.lower_bound(offset);
        if (next != writes.end() && next->first < offset + len) overlapping = true;
        if (next != writes.begin()) {
            auto prev = std::prev(next);
            if (prev->first + prev->second.size() > offset) overlapping = true;
        }
        auto p = static_cast<const uint8_t*>(data);
        writes[offset] = std::vector<uint8_t>(p, p + len);
        return true;
    }
    bool preallocate(uint64_t, uint64_t len, bool) override {
        preallocated += len;
        return true;
    }
    bool set_size(uint64_t s) override {
        size = s;
        size_set = true;
        return true;
    }

    std::vector<uint8_t> read(uint64_t offset, size_t len) const {
        std::vector<uint8_t> out(len, 0);
        auto it = writes.upper_bound(offset);
        if (it != writes.begin()) --it;
        for (; it != writes.end() && it->first < offset + len; ++it) {
            uint64_t ws = it->first, we = ws + it->second.size();
            uint64_t s = std::max(ws, offset), e = std::min<uint64_t>(we, offset + len);
            if (s < e) std::memcpy(out.data() + (s - offset), it->second.data() + (s - ws), e - s);
        }
        return out;
    }

    std::vector<std::pair<uint64_t, uint64_t>> extents() const {
        std::vector<std::pair<uint64_t, uint64_t>> v;
        for (auto& [o, d] : writes) v.emplace_back(o, d.size());
        return v;
    }

    // A sparse file with the same content.
    bool save(const std::string& path) const {
        int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0) return false;
        bool ok = ftruncate(fd, off_t(size)) == 0;
        for (auto& [o, d] : writes) {
            if (ok) ok = pwrite(fd, d.data(), d.size(), off_t(o)) == ssize_t(d.size());
        }
        return close(fd) == 0 && ok;
    }
};

// The ranges of a file that hold data (holes skipped).
inline std::vector<std::pair<uint64_t, uint64_t>> data_extents(int fd, uint64_t size) {
    std::vector<std::pair<uint64_t, uint64_t>> v;
    off_t pos = 0;
    while (uint64_t(pos) < size) {
        off_t d = lseek(fd, pos, SEEK_DATA);
        if (d < 0) break;
        off_t h = lseek(fd, d, SEEK_HOLE);
        if (h < 0) h = off_t(size);
        v.emplace_back(uint64_t(d), uint64_t(h - d));
        pos = h;
    }
    return v;
}

struct Mask {
    uint64_t offset;
    uint64_t len;
};

// Byte-for-byte equality of the qemu-made file and the sink's image, bytes
// under `masks` excepted.
inline ::testing::AssertionResult same_image(const std::string& qemu_path, const SparseSink& sink,
                                             const std::vector<Mask>& masks) {
    int fd = open(qemu_path.c_str(), O_RDONLY);
    if (fd < 0) return ::testing::AssertionFailure() << "cannot open " << qemu_path;
    struct stat st {};
    fstat(fd, &st);
    uint64_t size = uint64_t(st.st_size);
    if (!sink.size_set) {
        close(fd);
        return ::testing::AssertionFailure() << "emitter never set the file size";
    }
    if (size != sink.size) {
        close(fd);
        return ::testing::AssertionFailure() << "file size: qemu " << size << ", ours " << sink.size;
    }

    auto ranges = data_extents(fd, size);
    for (auto& e : sink.extents()) ranges.push_back(e);
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;  // [start, end)
    for (auto& [o, l] : ranges) {
        uint64_t e = std::min(o + l, size);
        if (o >= e) continue;
        if (!merged.empty() && o <= merged.back().second)
            merged.back().second = std::max(merged.back().second, e);
        else
            merged.emplace_back(o, e);
    }
    uint64_t total = 0;
    for (auto& [s, e] : merged) total += e - s;
    // Guards against a file system without SEEK_DATA turning a sparse
    // multi-TiB reference into a full read.
    if (total > (uint64_t(4) << 30)) {
        close(fd);
        return ::testing::AssertionFailure() << "refusing to compare " << total << " bytes";
    }

    constexpr uint64_t kPiece = 1 << 20;
    std::vector<uint8_t> theirs(kPiece);
    for (auto& [s, e] : merged) {
        for (uint64_t at = s; at < e; at += kPiece) {
            size_t n = size_t(std::min(kPiece, e - at));
            if (pread(fd, theirs.data(), n, off_t(at)) != ssize_t(n)) {
                close(fd);
                return ::testing::AssertionFailure() << "short read at " << at;
            }
            std::vector<uint8_t> ours = sink.read(at, n);
            for (auto& m : masks) {
                uint64_t ms = std::max(m.offset, at), me = std::min(m.offset + m.len, at + n);
                for (uint64_t i = ms; i < me; ++i) theirs[i - at] = ours[i - at] = 0;
            }
            if (std::memcmp(theirs.data(), ours.data(), n) != 0) {
                size_t i = 0;
                while (theirs[i] == ours[i]) ++i;
                close(fd);
                char msg[160];
                std::snprintf(msg, sizeof msg, "first difference at 0x%llx: qemu %02x, ours %02x",
                              (unsigned long long)(at + i), theirs[i], ours[i]);
                return ::testing::AssertionFailure() << msg;
            }
        }
    }
    close(fd);
    return ::testing::AssertionSuccess();
}

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

inline uint64_t file_size(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

// A number from `qemu-img info --output=json`; -1 when absent.
inline long long json_number(const std::string& json, const std::string& key) {
    auto at = json.find("\"" + key + "\":");
    if (at == std::string::npos) return -1;
    return std::stoll(json.substr(at + key.size() + 3));
}

struct Info {
    bool ok;
    long long virtual_size;
    long long cluster_size;
    std::string text;
};

inline Info qemu_info(const std::string& path, const std::string& fmt) {
    RunResult r = run(qemu_img() + " info -f " + fmt + " --output=json " + quote(path));
    Info i{r.status == 0, -1, -1, r.output};
    if (i.ok) {
        i.virtual_size = json_number(r.output, "virtual-size");
        i.cluster_size = json_number(r.output, "cluster-size");
    }
    return i;
}

// An image file as a probe sees it (sparse files cost nothing).
class FileSource : public formats::ImageSource {
public:
    explicit FileSource(const std::string& path) : fd_(open(path.c_str(), O_RDONLY)) {
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
        std::memset(buf, 0, len);
        if (offset >= size_) return true;
        size_t n = size_t(std::min<uint64_t>(len, size_ - offset));
        return pread(fd_, buf, n, off_t(offset)) == ssize_t(n);
    }

private:
    int fd_;
    uint64_t size_ = 0;
};

inline bool write_range(const std::string& path, uint64_t offset, const std::vector<uint8_t>& data) {
    int fd = open(path.c_str(), O_WRONLY);
    if (fd < 0) return false;
    bool ok = pwrite(fd, data.data(), data.size(), off_t(offset)) == ssize_t(data.size());
    return close(fd) == 0 && ok;
}

inline bool copy_file(const std::string& from, const std::string& to) {
    return run("cp --sparse=always " + quote(from) + " " + quote(to)).status == 0;
}

// Scratch for the emitters and probes, as the guest would give them.
struct Scratch {
    std::vector<uint8_t> buf;
    formats::Arena arena;
    explicit Scratch(size_t bytes = 1 << 20) : buf(bytes), arena(buf.data(), buf.size()) {}
};

// What a format's probe says about a file: status and virtual size.
using ReadBasicFn = formats::Status (*)(formats::ImageSource&, formats::Arena&, formats::BasicImageInfo&);
struct Verdict {
    formats::Status status;
    uint64_t size;
};

inline Verdict probe_with(ReadBasicFn read_basic, formats::ImageSource& src) {
    Scratch scratch;
    formats::BasicImageInfo info{};
    formats::Status s = read_basic(src, scratch.arena, info);
    return {s, info.virtual_size};
}

struct Agreement {
    bool qemu_opened;
    Verdict ours;
};

// qemu-img info and the probe agree: both open the file with the same size,
// or both refuse. Returns both answers for format-specific checks.
inline Agreement expect_probe_agreement(ReadBasicFn read_basic, const std::string& fmt, const std::string& path,
                                      bool qemu_should_open, const std::string& what) {
    Info q = qemu_info(path, fmt);
    EXPECT_EQ(q.ok, qemu_should_open) << what << ": " << q.text;
    FileSource src(path);
    EXPECT_TRUE(src.ok()) << what << ": cannot open " << path;
    if (!src.ok()) return {q.ok, {formats::Status::read_failed, 0}};
    Verdict v = probe_with(read_basic, src);
    if (q.ok) {
        EXPECT_EQ(v.status, formats::kOk) << what;
        EXPECT_EQ(v.size, uint64_t(q.virtual_size)) << what;
    } else {
        EXPECT_NE(v.status, formats::kOk) << what << " (we report " << v.size << ")";
    }
    return {q.ok, v};
}

inline abi::CreateRequest base_request(abi::ImageFormat fmt, uint64_t size) {
    abi::CreateRequest r{};
    r.format = uint32_t(fmt);
    r.flags = abi::kCreateHasSize;
    r.size = size;
    r.preallocation = uint32_t(abi::Preallocation::off);
    for (uint32_t i = 0; i < abi::kEntropyBytes; ++i) r.entropy[i] = uint8_t(0x5A ^ (i * 37));
    r.timestamp = 1700000000;
    return r;
}

}  // namespace instar::testing::vv

namespace instar::testing::vv {

// Records only where writes land: for requests whose images would not fit
// in memory.
class CountingSink : public formats::ImageSink {
public:
    uint64_t bytes = 0, max_end = 0, writes = 0, size = 0;
    bool size_set = false;
    bool write(uint64_t offset, const void*, size_t len) override {
        bytes += len;
        ++writes;
        if (offset + len > max_end) max_end = offset + len;
        return true;
    }
    bool preallocate(uint64_t, uint64_t, bool) override { return true; }
    bool set_size(uint64_t s) override {
        size = s;
        size_set = true;
        return true;
    }
};

// Requests with every field drawn from interesting and arbitrary values.
template <typename Rng>
uint64_t pick_size(Rng& rng) {
    const uint64_t interesting[] = {0, 1, 511, 512, 513, (1ull << 20) + 1, 0xff000000ull * 512, 0xff000000ull * 512 + 1,
                                    64ull << 40, (64ull << 40) + 1, ~0ull, 1ull << 63};
    switch (rng() % 3) {
        case 0: return interesting[rng() % (sizeof interesting / sizeof interesting[0])];
        case 1: return (uint64_t(rng()) << 32 | rng()) >> (rng() % 64);
        default: return uint64_t(rng()) << (rng() % 12);
    }
}

template <typename Rng>
uint32_t pick_u32(Rng& rng) {
    switch (rng() % 3) {
        case 0: return 1u << (rng() % 32);
        case 1: return uint32_t(rng()) >> (rng() % 32);
        default: return uint32_t(rng() % 8);
    }
}

}  // namespace instar::testing::vv
