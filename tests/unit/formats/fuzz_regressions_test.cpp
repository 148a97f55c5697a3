// Replays every input kept under tests/fuzz/regressions/<target>/ through
// the same entry points and checks as the format fuzz targets
// (tests/fuzz/format_checks.h, read_checks.h), natively, without libFuzzer. A crash the
// fuzzers found stays fixed: under `make test-asan` a memory error in the
// replay is a sanitizer report, here an invariant failure is a test failure.
//
// Host-side targets (fuzz_virtqueue, fuzz_virtio_mmio, fuzz_guest_messages)
// are not format code and are not replayed here; the info targets
// (fuzz_info_*) need the CLI's validator and renderers and are replayed by
// tests/unit/cli/info_fuzz_regressions_test.cpp. A directory for a format
// whose code is not in the tree yet is skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../../fuzz/format_checks.h"
#include "../../fuzz/read_checks.h"
#include "formats/vhdx/vhdx_reader.h"
#include "formats/vpc/vpc_reader.h"
#include "memory_image.h"

namespace instar::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kRegressions = (fs::path(INSTAR_TEST_DATA_DIR) / ".." / ".." / "fuzz" / "regressions").lexically_normal();

// The check a target's inputs go through; empty for targets not replayed
// here. `known` is false for names that are no fuzz target at all.
using Check = std::function<const char*(const uint8_t*, size_t)>;

Check check_for(const std::string& target, bool& known) {
    known = true;
    if (target == "fuzz_detect") return fuzz::check_detect_all;
    if (target == "fuzz_vmdk_descriptor") return fuzz::check_vmdk_descriptor;
    if (target == "fuzz_virtqueue" || target == "fuzz_virtio_mmio" || target == "fuzz_guest_messages") return {};
    if (target.rfind("fuzz_info_", 0) == 0) return {};
    if (target == "fuzz_read_vpc")
        return [](const uint8_t* d, size_t n) {
            return fuzz::check_read(abi::Format::vpc, formats::vpc_open_reader, d, n);
        };
    if (target == "fuzz_read_vhdx")
        return [](const uint8_t* d, size_t n) {
            return fuzz::check_read(abi::Format::vhdx, formats::vhdx_open_reader, d, n);
        };
    for (const char* fmt : {"qcow2", "vmdk", "vpc", "vhdx"}) {
        const std::string f = fmt;
        const bool probe = target == "fuzz_probe_" + f, emit = target == "fuzz_emit_" + f;
        if (!probe && !emit) continue;
        const fuzz::FormatEntry* e = fuzz::find_format(fmt);
        if (!e || (emit && !e->emit)) return {};  // not in the tree yet
        if (emit) return [e](const uint8_t* d, size_t n) { return fuzz::check_emit(*e, d, n); };
        return [e](const uint8_t* d, size_t n) { return fuzz::check_probe(*e, d, n); };
    }
    known = false;
    return {};
}

TEST(FuzzRegressions, EveryKeptInputStillPasses) {
    if (!fs::is_directory(kRegressions)) GTEST_SKIP() << "no " << kRegressions << " directory";
    size_t replayed = 0;
    std::vector<fs::path> dirs;
    for (const auto& d : fs::directory_iterator(kRegressions))
        if (d.is_directory()) dirs.push_back(d.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& dir : dirs) {
        const std::string target = dir.filename().string();
        bool known = false;
        const Check check = check_for(target, known);
        EXPECT_TRUE(known) << dir << " is named after no fuzz target";
        if (!check) continue;
        std::vector<fs::path> files;
        for (const auto& f : fs::directory_iterator(dir))
            if (f.is_regular_file() && f.path().filename().string()[0] != '.') files.push_back(f.path());
        std::sort(files.begin(), files.end());
        for (const fs::path& file : files) {
            const std::vector<uint8_t> bytes = read_file(file.string());
            const char* failure = check(bytes.data(), bytes.size());
            EXPECT_EQ(failure, nullptr) << target << " " << file.filename() << ": " << (failure ? failure : "");
            ++replayed;
        }
    }
    RecordProperty("replayed", int(replayed));
}

// The sparse input form the format targets and scripts/fuzz-seeds share.
TEST(FuzzRegressions, SparseInputsReadAsDescribed) {
    std::vector<uint8_t> in = {'I', 'S', 'P', 'A', 'R', 'S', 'E', '1'};
    auto le = [&](uint64_t v, int n) {
        for (int i = 0; i < n; ++i) in.push_back(uint8_t(v >> (8 * i)));
    };
    le(1ull << 50, 8);  // a 1 PiB file
    le(4096, 8), le(3, 4), in.insert(in.end(), {1, 2, 3});
    le((1ull << 50) - 2, 8), le(4, 4), in.insert(in.end(), {9, 9, 9, 9});  // runs past the end
    le(4097, 8), le(100, 4), in.push_back(7);                             // cut short by the input
    fuzz::FuzzImage img(in.data(), in.size());
    EXPECT_EQ(img.size(), 1ull << 50);
    uint8_t buf[6];
    img.read(4095, buf, sizeof buf);
    EXPECT_EQ(std::vector<uint8_t>(buf, buf + 6), (std::vector<uint8_t>{0, 1, 7, 3, 0, 0}));
    img.read((1ull << 50) - 3, buf, sizeof buf);
    EXPECT_EQ(std::vector<uint8_t>(buf, buf + 6), (std::vector<uint8_t>{0, 9, 9, 0, 0, 0}));

    const uint8_t raw[] = {5, 6, 7};
    fuzz::FuzzImage r(raw, sizeof raw);
    EXPECT_EQ(r.size(), 3u);
    r.read(1, buf, 4);
    EXPECT_EQ(std::vector<uint8_t>(buf, buf + 4), (std::vector<uint8_t>{6, 7, 0, 0}));
}

}  // namespace
}  // namespace instar::testing
