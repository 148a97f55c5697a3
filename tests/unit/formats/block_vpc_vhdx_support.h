// Shared by the vpc and vhdx block reader tests: qemu-img's name for a
// file opened with a given driver (a fixed VHD has no signature at 0, so
// qemu would take it for raw), the comparison of one image's content and
// block status with `qemu-img convert -O raw` and `qemu-img map`, and the
// checks of a reader on damaged bytes (a file that fails any read past its
// end, everything a reader answers, to compare two opens).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "block_reader_support.h"
#include "qcow2_info_support.h"

namespace instar::testing::block {

using testing::qcow2::TempDir;

// `path` opened by qemu with `driver` ("vpc", "vhdx"), whatever its bytes.
inline std::string forced(const std::string& path, const std::string& driver) {
    return "json:{\"driver\":\"" + driver + "\",\"file\":{\"driver\":\"file\",\"filename\":\"" + path + "\"}}";
}

// The reader of `path` as `format` reads what qemu-img convert reads, at
// any offset and length, and maps what qemu-img map maps; `driver` is
// qemu's name of the format.
inline void expect_like_qemu(const TempDir& dir, const std::string& path, abi::Format format,
                             const std::string& driver) {
    Chain c = open_chain({{path, format}});
    ASSERT_EQ(c.status, formats::kOk);
    std::vector<uint8_t> expected, got;
    std::string err;
    ASSERT_TRUE(qemu_convert_raw(forced(path, driver), dir.file("out.raw"), expected, &err)) << err;
    ASSERT_EQ(read_all(c.top(), got), formats::kOk);
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected) << "content differs from qemu-img convert";
    expect_map_matches(c, qemu_map(forced(path, driver)));

    std::mt19937_64 rng(7);
    for (int i = 0; i < 200 && !::testing::Test::HasFailure(); ++i) {
        const uint64_t off = rng() % expected.size();
        const size_t len = size_t(std::min<uint64_t>(1 + rng() % (3 << 20), expected.size() - off));
        std::vector<uint8_t> part(len);
        ASSERT_EQ(c.top().read(off, part.data(), len), formats::kOk);
        EXPECT_TRUE(std::equal(part.begin(), part.end(), expected.begin() + long(off))) << off << "+" << len;
    }
}

// The first failure of a walk over the whole disk by block status.
inline Status walk_status(BlockReader& r) {
    for (uint64_t pos = 0; pos < r.virtual_size();) {
        BlockStatus s;
        const Status st = r.block_status(pos, r.virtual_size() - pos, s);
        if (st != formats::kOk) return st;
        pos += s.bytes;
    }
    return formats::kOk;
}

// An image in memory (not copied: it outlives this) that fails (rather
// than pads) any read past its end.
class StrictMemory : public formats::ImageSource {
public:
    explicit StrictMemory(const std::vector<uint8_t>& b) : bytes_(b) {}
    uint64_t size() const override { return bytes_.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (offset > bytes_.size() || len > bytes_.size() - offset) {
            ++outside;
            return false;
        }
        std::memcpy(buf, bytes_.data() + offset, len);
        return true;
    }
    int outside = 0;

private:
    const std::vector<uint8_t>& bytes_;
};

// Everything one open reader answers: each run of a walk by block status
// (at most `max_runs`) and a read of its start (or their failures), then
// reads of odd sizes across the first 8 MiB. `statuses` holds every status
// code among them.
struct Answers {
    std::vector<uint64_t> all;
    std::vector<Status> statuses;
    bool operator==(const Answers& o) const { return all == o.all && statuses == o.statuses; }
};

inline uint64_t checksum(const std::vector<uint8_t>& buf) {
    uint64_t sum = 0;
    for (uint8_t v : buf) sum = sum * 31 + v;
    return sum;
}

inline Answers answers(BlockReader& r, int max_runs = 4096) {
    Answers a;
    a.all.push_back(r.virtual_size());
    std::vector<uint8_t> buf;
    uint64_t pos = 0;
    for (int i = 0; i < max_runs && pos < r.virtual_size(); ++i) {
        BlockStatus s;
        const Status st = r.block_status(pos, r.virtual_size() - pos, s);
        a.statuses.push_back(st);
        if (st != formats::kOk) {
            pos += 512;  // past the damaged sector, as a salvaging caller would
            continue;
        }
        EXPECT_GT(s.bytes, 0u);
        EXPECT_LE(s.bytes, r.virtual_size() - pos);
        a.all.insert(a.all.end(), {pos, s.bytes, uint64_t(s.kind), s.has_host_offset, s.host_offset, s.compressed});
        buf.assign(size_t(std::min<uint64_t>(s.bytes, 64 << 10)), 0xa5);
        a.statuses.push_back(r.read(pos, buf.data(), buf.size()));
        a.all.push_back(checksum(buf));
        pos += s.bytes;
    }
    for (uint64_t at = 0; at < std::min<uint64_t>(r.virtual_size(), 8u << 20); at += 777777) {
        buf.assign(size_t(std::min<uint64_t>(100003, r.virtual_size() - at)), 0);
        a.statuses.push_back(r.read(at, buf.data(), buf.size()));
        a.all.push_back(checksum(buf));
    }
    return a;
}

// Opens `bytes` as `format` twice, on fresh scratch, and takes every
// answer: true when it opened. Fails the test on a read outside the file,
// an `internal` status (a question the reader thinks out of range) or two
// different answers.
inline bool expect_bounded_and_deterministic(abi::Format format, const std::vector<uint8_t>& bytes,
                                             const std::string& what) {
    std::vector<uint8_t> scratch(kLayerScratch);
    Answers first;
    bool opened = false;
    for (int round = 0; round < 2; ++round) {
        StrictMemory src(bytes);
        formats::Arena arena(scratch.data(), scratch.size());
        BlockReader* r = nullptr;
        formats::ReaderOpenParams p{src, arena, nullptr, nullptr};
        const Status st = formats::format_driver(format)->open_reader(p, r);
        Answers a;
        a.statuses.push_back(st);
        if (st == formats::kOk) {
            opened = true;
            Answers more = answers(*r);
            a.all = more.all;
            a.statuses.insert(a.statuses.end(), more.statuses.begin(), more.statuses.end());
        }
        EXPECT_EQ(src.outside, 0) << "read outside the file, " << what;
        for (Status v : a.statuses) EXPECT_NE(v, Status::internal) << what;
        if (round == 0)
            first = a;
        else
            EXPECT_TRUE(a == first) << "different answers, " << what;
    }
    return opened;
}

}  // namespace instar::testing::block
