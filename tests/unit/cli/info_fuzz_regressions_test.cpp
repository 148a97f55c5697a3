// Replays every input kept under tests/fuzz/regressions/fuzz_info_*/
// through the same checks as the `info` fuzz targets (tests/fuzz/
// info_checks.h): the guest's reader natively, then the host's checks and
// renderers, as in the targets. Here and not with the format targets'
// replay (tests/unit/formats/fuzz_regressions_test.cpp) because it needs
// the CLI's validator and renderers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../fuzz/info_checks.h"

namespace instar::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kRegressions = (fs::path(INSTAR_TEST_DATA_DIR) / ".." / ".." / "fuzz" / "regressions").lexically_normal();

std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The check for an info target's inputs; nullptr for other targets.
using Check = const char* (*)(const uint8_t*, size_t);

Check check_for(const std::string& target) {
    if (target == "fuzz_info_validate") return fuzz::check_validate;
    if (target == "fuzz_info_qcow2")
        return [](const uint8_t* d, size_t n) { return fuzz::check_info(*fuzz::find_format("qcow2"), d, n); };
    if (target == "fuzz_info_vmdk")
        return [](const uint8_t* d, size_t n) { return fuzz::check_info(*fuzz::find_format("vmdk"), d, n); };
    if (target == "fuzz_info_vpc")
        return [](const uint8_t* d, size_t n) { return fuzz::check_info(*fuzz::find_format("vpc"), d, n); };
    if (target == "fuzz_info_vhdx")
        return [](const uint8_t* d, size_t n) { return fuzz::check_info(*fuzz::find_format("vhdx"), d, n); };
    return nullptr;
}

TEST(InfoFuzzRegressions, EveryKeptInputStillPasses) {
    if (!fs::is_directory(kRegressions)) GTEST_SKIP() << "no " << kRegressions << " directory";
    size_t replayed = 0;
    for (const auto& d : fs::directory_iterator(kRegressions)) {
        const std::string target = d.path().filename().string();
        if (!d.is_directory() || target.rfind("fuzz_info_", 0) != 0) continue;
        const Check check = check_for(target);
        EXPECT_NE(check, nullptr) << d.path() << " is named after no info fuzz target";
        if (!check) continue;
        std::vector<fs::path> files;
        for (const auto& f : fs::directory_iterator(d.path()))
            if (f.is_regular_file() && f.path().filename().string()[0] != '.') files.push_back(f.path());
        std::sort(files.begin(), files.end());
        for (const fs::path& file : files) {
            const std::vector<uint8_t> bytes = read_bytes(file);
            const char* failure = check(bytes.data(), bytes.size());
            EXPECT_EQ(failure, nullptr) << target << " " << file.filename() << ": " << (failure ? failure : "");
            ++replayed;
        }
    }
    RecordProperty("replayed", int(replayed));
}

}  // namespace
}  // namespace instar::testing
