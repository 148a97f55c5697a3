// Any format's convert writer on its own: runs of random data written in
// guest order through FormatDriver::open_writer into memory, then the
// image opened with the same format's reader must hold exactly the data
// written (zeroes where nothing was). Byte identity with qemu-img is the
// integration suite's.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "abi/ops/create.h"
#include "formats/format_driver.h"
#include "memory_image.h"

namespace instar::testing {

using Runs = std::vector<std::pair<uint64_t, uint64_t>>;

// Runs of data in guest order: gaps of any size (a write may start in the
// unit the previous one ended in), lengths of a sector to many units.
inline Runs write_pattern(uint64_t size, uint64_t unit, uint32_t seed) {
    std::mt19937_64 rng(seed);
    Runs runs;
    uint64_t at = 0;
    while (true) {
        const uint64_t step = rng() % 2 ? 512 : unit;
        at += (rng() % 6) * step;
        if (at >= size) break;
        uint64_t len = (1 + rng() % 40) * (rng() % 3 ? 512 : unit);
        if (len > size - at) len = size - at;
        runs.push_back({at, len});
        at += len;
    }
    return runs;
}

struct WrittenImage {
    std::vector<uint8_t> file;
    std::vector<uint8_t> disk;  // what the image must read as
    uint64_t virtual_size = 0;
};

// Writes `runs` through the writer for `req` (sized `size`); fails the
// test on any refusal.
inline WrittenImage write_image(const abi::CreateRequest& req, uint64_t size, const Runs& runs, uint32_t seed) {
    WrittenImage out;
    const formats::FormatDriver* driver = formats::format_driver(abi::Format(req.format));
    EXPECT_TRUE(driver && driver->open_writer);
    if (!driver || !driver->open_writer) return out;
    std::vector<uint8_t> scratch(32u << 20);
    formats::Arena arena(scratch.data(), scratch.size());
    MemorySink sink;
    formats::ImageWriter* w = nullptr;
    EXPECT_EQ(driver->open_writer({req, size, sink, arena, false}, w), formats::kOk);
    if (!w) return out;
    out.virtual_size = w->virtual_size();
    EXPECT_GE(out.virtual_size, size);
    out.disk.assign(out.virtual_size, 0);
    std::mt19937 rng(seed);
    for (const auto& [at, len] : runs) {
        for (uint64_t i = 0; i < len; i += 4) {
            const uint32_t v = rng();
            std::memcpy(out.disk.data() + at + i, &v, 4);  // runs are whole sectors
        }
        EXPECT_EQ(w->write(at, out.disk.data() + at, len), formats::kOk) << at << "+" << len;
    }
    EXPECT_EQ(w->finish(), formats::kOk);
    EXPECT_EQ(sink.bytes.size(), w->file_size());
    out.file = std::move(sink.bytes);
    return out;
}

// Opens `file` with the format's reader: it must hold exactly `disk`.
inline void expect_reads_back(abi::Format format, const std::vector<uint8_t>& file, const std::vector<uint8_t>& disk) {
    MemorySource src(file);
    std::vector<uint8_t> scratch(64u << 20);
    formats::Arena arena(scratch.data(), scratch.size());
    formats::BlockReader* r = nullptr;
    ASSERT_EQ(formats::format_driver(format)->open_reader({src, arena, nullptr, nullptr}, r), formats::kOk);
    ASSERT_EQ(r->virtual_size(), disk.size());
    std::vector<uint8_t> got(disk.size());
    constexpr uint64_t kPiece = 1u << 20;
    for (uint64_t at = 0; at < got.size(); at += kPiece) {
        const uint64_t n = got.size() - at < kPiece ? got.size() - at : kPiece;
        ASSERT_EQ(r->read(at, got.data() + at, n), formats::kOk);
    }
    if (got == disk) return;
    for (uint64_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], disk[i]) << "byte " << i;
}

inline void expect_reads_back(abi::Format format, const WrittenImage& img) {
    ASSERT_EQ(img.disk.size(), img.virtual_size);
    expect_reads_back(format, img.file, img.disk);
}

}  // namespace instar::testing
