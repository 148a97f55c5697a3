// Every format's detect on the same bytes (at several head lengths, with
// exact-size buffers), then read_basic for each format that claims them:
// polyglots, truncated heads.
#include <cstddef>
#include <cstdint>

#include "format_checks.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    instar::fuzz::require(instar::fuzz::check_detect_all(data, size));
    return 0;
}
