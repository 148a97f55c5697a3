// vmdk_detect and vmdk_read_basic on arbitrary file bytes (raw, or the
// sparse form of fuzz_image.h). See format_checks.h for what is checked.
#include <cstddef>
#include <cstdint>

#include "format_checks.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const instar::fuzz::FormatEntry* format = instar::fuzz::find_format("vmdk");
    if (!format) instar::fuzz::invariant_failed("vmdk probe is not in this build");
    instar::fuzz::require(instar::fuzz::check_probe(*format, data, size));
    return 0;
}
