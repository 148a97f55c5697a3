// Shared helpers for the vmdk emitter, probe and info tests: sparse files,
// the embedded descriptor, a hand-made and a qemu-made 1 MiB image, the
// CID qemu wrote, requests, a source strict about reads past the end.
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
#include "formats/common/endian.h"
#include "formats/common/image_io.h"
#include "file_image.h"
#include "memory_image.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace instar::testing::vmdk {

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

// Where a monolithicSparse file of qemu's keeps its embedded descriptor.
inline constexpr size_t kDescAt = 512, kDescBytes = 10240;

// The embedded descriptor replaced by `text`, zero padded.
inline void set_descriptor(std::vector<uint8_t>& b, const std::string& text) {
    std::memset(b.data() + kDescAt, 0, kDescBytes);
    std::memcpy(b.data() + kDescAt, text.data(), std::min(text.size(), kDescBytes));
}

// The descriptor of a 1 MiB monolithicSparse img.vmdk, with a fixed CID.
inline const std::string kDesc =
    "# Disk DescriptorFile\nversion=1\nCID=1234abcd\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n\n"
    "# Extent description\nRW 2048 SPARSE \"img.vmdk\"\n";

inline void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) { formats::store_le16(b.data() + off, v); }
inline void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) { formats::store_le32(b.data() + off, v); }
inline void put64(std::vector<uint8_t>& b, size_t off, uint64_t v) { formats::store_le64(b.data() + off, v); }

// Sparse extent header field offsets, as the on-disk layout has them.
inline constexpr size_t kVersion = 4, kFlags = 8, kCapacity = 12, kGranularity = 20, kDescOffset = 28,
                        kDescSize = 36, kGtes = 44, kRgdOffset = 48, kGdOffset = 56, kGrainOffset = 64,
                        kCompress = 77;

// The first 64 KiB of a 1 MiB sparse extent with only what a descriptor
// file's extent needs: no flags, no embedded descriptor, no redundant
// grain directory.
inline std::vector<uint8_t> sparse_extent_1m() {
    std::vector<uint8_t> base(65536, 0);
    std::memcpy(base.data(), "KDMV", 4);
    put32(base, kVersion, 1);
    put64(base, kCapacity, 2048);
    put64(base, kGranularity, 128);
    put32(base, kGtes, 512);
    put64(base, kGdOffset, 26);
    put64(base, kGrainOffset, 128);
    return base;
}

// The first 64 KiB of a well-formed 1 MiB monolithicSparse image, as qemu
// lays it out, with `descriptor` embedded.
inline std::vector<uint8_t> sparse_1m(const std::string& descriptor) {
    std::vector<uint8_t> base = sparse_extent_1m();
    put32(base, kFlags, 3);
    put64(base, kDescOffset, 1);
    put64(base, kDescSize, 20);
    put64(base, kRgdOffset, 21);
    set_descriptor(base, descriptor);
    return base;
}

// What `qemu-img create -f vmdk PATH 1M` (streamOptimized when asked)
// writes, with its descriptor replaced by kDesc; empty if qemu-img failed.
inline std::vector<uint8_t> qemu_made_1m(const std::string& path, bool stream = false) {
    CommandResult made = run_command("qemu-img create -q -f vmdk " +
                                     std::string(stream ? "-o subformat=streamOptimized " : "") + shell_quote(path) +
                                     " 1M");
    EXPECT_EQ(made.status, 0) << made.output;
    if (made.status != 0) return {};
    std::vector<uint8_t> b = read_file(path);
    set_descriptor(b, kDesc);
    return b;
}

// A request as the host would resolve `qemu-img create -f vmdk NAME SIZE`
// with no options.
inline abi::CreateRequest default_request(uint64_t size, const char* image_name = "ref.vmdk") {
    abi::CreateRequest r;
    std::memset(&r, 0, sizeof(r));
    r.format = uint32_t(abi::Format::vmdk);
    r.flags = abi::kCreateHasSize;
    r.size = size;
    r.preallocation = uint32_t(abi::Preallocation::off);
    r.vmdk_subformat = uint32_t(abi::VmdkSubformat::monolithic_sparse);
    r.vmdk_adapter = uint32_t(abi::VmdkAdapter::ide);
    r.grain_size = 65536;
    r.backing_format = uint32_t(abi::Format::none);
    // Entropy beyond the CID bytes must not matter: make it noisy.
    for (size_t i = 0; i < abi::kEntropyBytes; ++i) r.entropy[i] = uint8_t(0xa5 ^ (i * 37));
    r.timestamp = 1700000000;
    std::snprintf(r.image_name, sizeof(r.image_name), "%s", image_name);
    return r;
}

inline void set_cid(abi::CreateRequest& r, uint32_t cid) {
    for (int i = 0; i < 4; ++i) r.entropy[i] = uint8_t(cid >> (8 * i));
}

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

// First differing offset, or -1.
inline long long first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    const size_t n = std::min(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return (long long)i;
    }
    return a.size() == b.size() ? -1 : (long long)n;
}

}  // namespace instar::testing::vmdk
