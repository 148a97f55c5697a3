// qcow2_emit on arbitrary CreateRequest bytes: it refuses cleanly, or writes
// an image that qcow2_read_basic opens with the virtual size it reported.
// See format_checks.h for the input layout and every check.
#include <cstddef>
#include <cstdint>

#include "format_checks.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const instar::fuzz::FormatEntry* format = instar::fuzz::find_format("qcow2");
    if (!format || !format->emit) instar::fuzz::invariant_failed("qcow2 emitter is not in this build");
    instar::fuzz::require(instar::fuzz::check_emit(*format, data, size));
    return 0;
}
