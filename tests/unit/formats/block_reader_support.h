// Shared by the block reader tests: opening a backing chain of readers
// through the format table, reading a whole disk through them, and what
// qemu-img says of the same files (`convert -O raw`, `map --output=json`),
// to compare with.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "abi/format.h"
#include "file_image.h"
#include "formats/block/block_reader.h"
#include "formats/block/chain_status.h"
#include "formats/common/arena.h"
#include "formats/format_driver.h"
#include "support/files.h"
#include "support/process.h"

namespace instar::testing::block {

using formats::BlockKind;
using formats::BlockReader;
using formats::BlockStatus;
using formats::Status;

// Scratch per opened image: the open checks' scratch (given back) and the
// reader's bounded caches and compressed-cluster buffers (two clusters of
// up to 2 MiB) fit with room to spare.
inline constexpr size_t kLayerScratch = 8u << 20;

// A file that, once the reader is open, refuses (and counts) any read past
// its end: the reader must clamp every offset an image names. Before, the
// open checks (info's, which ask for whole windows) get zeroes there, as
// the guest's device gives them.
class GuardedFile : public formats::ImageSource {
public:
    explicit GuardedFile(const std::string& path) : file_(path) {}
    uint64_t size() const override { return file_.size(); }
    bool read(uint64_t offset, void* buf, size_t len) override {
        ++reads;
        if (guard && (offset > size() || len > size() - offset)) {
            ++outside;
            return false;
        }
        return file_.read(offset, buf, len);
    }
    bool guard = false;
    size_t reads = 0;
    int outside = 0;

private:
    FileSource file_;
};

struct Layer {
    std::unique_ptr<GuardedFile> file;
    std::unique_ptr<GuardedFile> data_file;
    std::vector<uint8_t> scratch;
    std::unique_ptr<formats::Arena> arena;
    BlockReader* reader = nullptr;
};

struct ImageFile {
    ImageFile(std::string p, abi::Format f = abi::Format::qcow2, std::string d = {})
        : path(std::move(p)), format(f), data_file(std::move(d)) {}
    std::string path;
    abi::Format format;
    std::string data_file;  // a qcow2 image's external data file, if any
};

// A backing chain, top first, opened bottom first as a guest would: each
// layer gets the one below as its backing reader. Once open, every file
// refuses reads past its end, so a reader that asked for one fails
// (read_failed); the chain's destructor checks that none did.
struct Chain {
    std::vector<std::unique_ptr<Layer>> layers;  // top first
    Status status = Status::internal;            // of the first layer that failed to open
    BlockReader& top() { return *layers.front()->reader; }
    Chain() = default;
    Chain(Chain&&) = default;
    ~Chain() {
        for (const auto& l : layers) {
            if (!l) continue;
            EXPECT_EQ(l->file->outside, 0) << "read past the end of the image file";
            if (l->data_file) {
                EXPECT_EQ(l->data_file->outside, 0) << "read past the end of the data file";
            }
        }
    }
};

// `scratch`: where the readers decode compressed clusters, shared (as
// convert shares one); nullptr: each takes its own.
inline Chain open_chain(const std::vector<ImageFile>& top_first, formats::DecodeScratch* scratch = nullptr) {
    Chain c;
    c.layers.resize(top_first.size());
    BlockReader* below = nullptr;
    for (size_t i = top_first.size(); i-- > 0;) {
        const ImageFile& f = top_first[i];
        auto l = std::make_unique<Layer>();
        l->file = std::make_unique<GuardedFile>(f.path);
        if (!f.data_file.empty()) l->data_file = std::make_unique<GuardedFile>(f.data_file);
        l->scratch.resize(kLayerScratch);
        l->arena = std::make_unique<formats::Arena>(l->scratch.data(), l->scratch.size());
        const formats::FormatDriver* d = formats::format_driver(f.format);
        EXPECT_TRUE(d && d->open_reader);
        formats::ReaderOpenParams p{*l->file, *l->arena, below, l->data_file.get(), scratch};
        c.status = d->open_reader(p, l->reader);
        if (c.status != formats::kOk) return c;
        l->file->guard = true;
        if (l->data_file) l->data_file->guard = true;
        below = l->reader;
        c.layers[i] = std::move(l);
    }
    return c;
}

// The whole disk through read(), in chunks of `chunk` bytes (odd sizes
// cross every boundary at every alignment).
inline Status read_all(BlockReader& r, std::vector<uint8_t>& out, size_t chunk = (1u << 20) + 4097) {
    out.assign(r.virtual_size(), 0xee);
    for (uint64_t pos = 0; pos < out.size();) {
        const size_t n = size_t(std::min<uint64_t>(chunk, out.size() - pos));
        const Status st = r.read(pos, out.data() + pos, n);
        if (st != formats::kOk) return st;
        pos += n;
    }
    return formats::kOk;
}

// qemu-img's name for one image without its backing file (the layer
// alone), as json: pseudo-protocol options.
inline std::string alone(const std::string& path) {
    return "json:{\"driver\":\"qcow2\",\"backing\":null,\"file\":{\"driver\":\"file\",\"filename\":\"" + path +
           "\"}}";
}

// `qemu-img convert -O raw NAME`: the disk qemu reads; false when it fails.
inline bool qemu_convert_raw(const std::string& name, const std::string& out, std::vector<uint8_t>& bytes,
                             std::string* err = nullptr) {
    CommandResult r = run_command(qemu_img() + " convert -O raw " + shell_quote(name) + " " + shell_quote(out));
    if (err) *err = r.output;
    if (r.status != 0) return false;
    bytes = read_file(out);
    return true;
}

struct MapEntry {
    uint64_t start, length, depth;
    bool present, zero, data, has_offset;
    uint64_t offset;
};

inline std::vector<MapEntry> qemu_map(const std::string& name) {
    CommandResult r = run_command(qemu_img() + " map --output=json " + shell_quote(name), Stderr::discard);
    EXPECT_EQ(r.status, 0) << r.output;
    std::vector<MapEntry> out;
    nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
    EXPECT_TRUE(j.is_array()) << r.output;
    if (!j.is_array()) return out;
    for (const auto& e : j) {
        out.push_back({e["start"], e["length"], e["depth"], e["present"], e["zero"], e["data"], e.contains("offset"),
                       e.contains("offset") ? e["offset"].get<uint64_t>() : 0});
    }
    return out;
}

// What qemu's map reports at `pos` for a chain, derived from our readers:
// the first layer from the top that has the bytes (depth), or where the
// chain ends (not present, zeroes): past a backing file's end, or below
// the bottom layer. The offset is that layer's. `bytes` is how far that
// answer holds from `pos`.
struct ChainStatus {
    uint64_t depth = 0, bytes = 0;
    bool present = false, zero = true, data = false, has_offset = false, compressed = false;
    uint64_t offset = 0;
};

inline Status chain_status(Chain& c, uint64_t pos, uint64_t max, ChainStatus& out) {
    const uint64_t max_asked = max;
    out = ChainStatus{};
    BlockStatus last{};
    for (size_t d = 0; d < c.layers.size(); ++d) {
        BlockReader& r = *c.layers[d]->reader;
        if (pos >= r.virtual_size()) break;  // past a backing file's end: the layer above ends the walk
        out.depth = d;
        BlockStatus s;
        const Status st = r.block_status(pos, max, s);
        if (st != formats::kOk) return st;
        EXPECT_GT(s.bytes, 0u);
        EXPECT_LE(s.bytes, max);
        max = s.bytes;  // the answer holds at most as far as each layer's does
        out.bytes = s.bytes;
        last = s;
        if (s.kind == BlockKind::unallocated) continue;
        out.present = true;
        out.zero = s.kind == BlockKind::zero;
        out.data = s.kind == BlockKind::data;
        out.compressed = s.compressed;
        break;
    }
    out.has_offset = last.has_host_offset;
    out.offset = last.host_offset;

    // formats::chain_block_status, which convert and map use, gives the
    // same answer.
    std::vector<BlockReader*> readers;
    for (const auto& l : c.layers) readers.push_back(l->reader);
    formats::ChainStatus prod{};
    EXPECT_EQ(formats::chain_block_status(readers.data(), readers.size(), pos, max_asked, prod), formats::kOk);
    EXPECT_EQ(prod.bytes, out.bytes) << "at " << pos;
    EXPECT_EQ(prod.depth, out.depth) << "at " << pos;
    EXPECT_EQ(prod.kind, !out.present ? BlockKind::unallocated : out.data ? BlockKind::data : BlockKind::zero)
        << "at " << pos;
    return formats::kOk;
}

// Every entry of qemu-img map (of the same chain) against our block status,
// range by range: depth, present, zero, data, and the host offset of data.
inline void expect_map_matches(Chain& c, const std::vector<MapEntry>& map) {
    uint64_t covered = 0;
    for (const MapEntry& e : map) {
        ASSERT_EQ(e.start, covered) << "qemu's map has a gap";
        for (uint64_t pos = e.start; pos < e.start + e.length;) {
            ChainStatus s;
            const Status st = chain_status(c, pos, e.start + e.length - pos, s);
            ASSERT_EQ(st, formats::kOk) << "at " << pos;
            SCOPED_TRACE("at " + std::to_string(pos) + " in qemu's entry " + std::to_string(e.start) + "+" +
                         std::to_string(e.length));
            EXPECT_EQ(s.depth, e.depth);
            EXPECT_EQ(s.present, e.present);
            EXPECT_EQ(s.zero, e.zero);
            EXPECT_EQ(s.data, e.data);
            EXPECT_EQ(s.has_offset, e.has_offset);
            if (s.has_offset && e.has_offset) {
                EXPECT_EQ(s.offset, e.offset + (pos - e.start));
            }
            if (::testing::Test::HasFailure()) return;
            pos += s.bytes;
        }
        covered = e.start + e.length;
    }
    EXPECT_EQ(covered, c.top().virtual_size());
}

}  // namespace instar::testing::block
