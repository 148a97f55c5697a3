// Shared by the vpc and vhdx tests: what qemu-img info says, a sink that
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
#include "formats/common/endian.h"
#include "formats/common/image_io.h"
#include "formats/common/probe.h"
#include "file_image.h"
#include "memory_image.h"
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace instar::testing::vv {

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

struct Info {
    bool ok;
    long long virtual_size;
    long long cluster_size;
    std::string text;
};

// What qemu-img info says of a file: whether it opens it, and the sizes
// it shows (-1 when absent).
inline Info qemu_info(const std::string& path, const std::string& fmt) {
    QemuJson q = qemu_info_json(path, fmt);
    Info i{q.status == 0, -1, -1, q.text};
    uint64_t v = 0;
    if (i.ok && json_number(q.text, "virtual-size", v)) i.virtual_size = (long long)v;
    if (i.ok && json_number(q.text, "cluster-size", v)) i.cluster_size = (long long)v;
    return i;
}

inline bool copy_file(const std::string& from, const std::string& to) {
    return run_command("cp --sparse=always " + shell_quote(from) + " " + shell_quote(to)).status == 0;
}

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

inline abi::CreateRequest base_request(abi::Format fmt, uint64_t size) {
    abi::CreateRequest r{};
    r.format = uint32_t(fmt);
    r.flags = abi::kCreateHasSize;
    r.size = size;
    r.preallocation = uint32_t(abi::Preallocation::off);
    for (uint32_t i = 0; i < abi::kEntropyBytes; ++i) r.entropy[i] = uint8_t(0x5A ^ (i * 37));
    r.timestamp = 1700000000;
    return r;
}

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

// ---- making and editing reference images -----------------------------------

// `v` as the bytes `store` writes.
template <typename T>
std::vector<uint8_t> encoded(void (*store)(uint8_t*, T), T v) {
    std::vector<uint8_t> b(sizeof(T));
    store(b.data(), v);
    return b;
}
inline std::vector<uint8_t> be32(uint32_t v) { return encoded(formats::store_be32, v); }
inline std::vector<uint8_t> be64(uint64_t v) { return encoded(formats::store_be64, v); }
inline std::vector<uint8_t> le16(uint16_t v) { return encoded(formats::store_le16, v); }
inline std::vector<uint8_t> le32(uint32_t v) { return encoded(formats::store_le32, v); }
inline std::vector<uint8_t> le64(uint64_t v) { return encoded(formats::store_le64, v); }

inline void truncate_to(const std::string& path, uint64_t size) {
    ASSERT_EQ(truncate(path.c_str(), off_t(size)), 0);
}

// `qemu-img create -q -f FMT [-o OPTS] DIR/NAME SIZE`; returns the path.
inline std::string qemu_create(const TempDir& dir, const std::string& name, const std::string& fmt,
                               const std::string& opts, uint64_t size) {
    std::string path = dir.file(name);
    CommandResult r = run_command(qemu_img() + " create -q -f " + fmt + " " + (opts.empty() ? "" : "-o " + opts + " ") +
                                  shell_quote(path) + " " + std::to_string(size));
    EXPECT_EQ(r.status, 0) << r.output;
    return path;
}

// A raw file of `size` bytes with patterned data at 0, at `middle`
// ("OFFSET LENGTH" for qemu-io) and in the last 4 KiB, converted to FMT as
// DIR/NAME; returns the path.
inline std::string qemu_convert(const TempDir& dir, const std::string& name, const std::string& fmt,
                                const std::string& opts, uint64_t size, const std::string& middle) {
    std::string raw = dir.file("src.raw");
    std::string path = dir.file(name);
    EXPECT_EQ(run_command(qemu_img() + " create -q -f raw " + shell_quote(raw) + " " + std::to_string(size)).status, 0);
    CommandResult w = run_command(qemu_io() + " -f raw -c 'write -P 0x11 0 64k' -c 'write -P 0x22 " + middle +
                                  "' -c 'write -P 0x33 " + std::to_string(size - 4096) + " 4k' " + shell_quote(raw));
    EXPECT_EQ(w.status, 0) << w.output;
    CommandResult c = run_command(qemu_img() + " convert -O " + fmt + " " + (opts.empty() ? "" : "-o " + opts + " ") +
                                  shell_quote(raw) + " " + shell_quote(path));
    EXPECT_EQ(c.status, 0) << c.output;
    return path;
}

// VHD (vpc) footer and dynamic header fields (VHD spec), the header at 512.
namespace vhd {

inline constexpr uint64_t kCreatorApp = 28, kCurrentSize = 48, kGeometry = 56, kDiskType = 60, kChecksum = 64;
inline constexpr uint64_t kDyn = 512, kTableOffset = 16, kEntries = 28, kBlockSize = 32;
inline constexpr uint64_t kBat = 1536;

// Four bytes of a cookie or creator field.
inline std::vector<uint8_t> text(const char* s) { return std::vector<uint8_t>(s, s + 4); }

// Recomputes the checksum of the footer at `at`, as a tool that edits a
// footer would.
inline void refresh_footer(const std::string& path, uint64_t at) {
    std::vector<uint8_t> f = read_range(path, at, 512);
    uint32_t sum = 0;
    for (int i = 0; i < 512; ++i)
        if (i < 64 || i >= 68) sum += f[i];
    write_range(path, at + kChecksum, be32(~sum));
}

// Edits both footers of a dynamic image (or the one of a fixed image) and
// keeps them valid.
inline void edit_footers(const std::string& path, uint64_t field, const std::vector<uint8_t>& value) {
    uint64_t end = file_size(path) - 512;
    std::vector<uint8_t> head = read_range(path, 0, 8);
    bool dynamic = std::string(head.begin(), head.end()) == "conectix";
    for (uint64_t at : dynamic ? std::vector<uint64_t>{0, end} : std::vector<uint64_t>{end}) {
        write_range(path, at + field, value);
        refresh_footer(path, at);
    }
}

}  // namespace vhd

// VHDX structures, at the offsets of the spec (header 1 at 64 KiB, region
// table 1 at 192 KiB) and qemu's placement of the metadata region at 3 MiB
// in the images these tests make (64 MiB, default log and block size).
namespace vhdx_edit {

// CRC-32C bit by bit, independent of the one under test.
inline uint32_t slow_crc32c(const std::vector<uint8_t>& data) {
    uint32_t crc = 0xFFFFFFFFu;
    for (uint8_t b : data) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return ~crc;
}

// Recomputes the checksum of the structure whose block starts at `at`.
inline void refresh_crc(const std::string& path, uint64_t at, uint64_t size) {
    std::vector<uint8_t> b = read_range(path, at, size);
    std::memset(b.data() + 4, 0, 4);
    write_range(path, at + 4, le32(slow_crc32c(b)));
}
inline void edit_header(const std::string& path, uint64_t header, uint64_t field, const std::vector<uint8_t>& v) {
    write_range(path, header + field, v);
    refresh_crc(path, header, 4096);
}
inline void edit_region_table(const std::string& path, uint64_t field, const std::vector<uint8_t>& v) {
    write_range(path, 0x30000 + field, v);
    refresh_crc(path, 0x30000, 65536);
}
// A region table entry (index from 0): GUID, offset, length, flags.
inline void put_region(const std::string& path, uint32_t index, const std::vector<uint8_t>& guid, uint64_t offset,
                       uint32_t length, uint32_t flags) {
    std::vector<uint8_t> entry = guid;
    for (auto& part : {le64(offset), le32(length), le32(flags)}) entry.insert(entry.end(), part.begin(), part.end());
    edit_region_table(path, 16 + 32ull * index, entry);
}
// A metadata table entry (index from 0) of the region at 3 MiB.
inline void put_metadata_entry(const std::string& path, uint32_t index, const std::vector<uint8_t>& guid,
                               uint32_t offset, uint32_t length, uint32_t flags) {
    std::vector<uint8_t> entry = guid;
    for (auto& part : {le32(offset), le32(length), le32(flags), le32(0)})
        entry.insert(entry.end(), part.begin(), part.end());
    write_range(path, (3u << 20) + 32 + 32ull * index, entry);
}

}  // namespace vhdx_edit

}  // namespace instar::testing::vv
