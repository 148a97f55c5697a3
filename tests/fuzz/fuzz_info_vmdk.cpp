// `info` of a vmdk image: formats::read_image_info on arbitrary file bytes
// (raw, sparse, or with the files it names: fuzz_image.h) read as vmdk
// and detected, and the host's checks on every answer it gives: the host
// must accept each one. See info_checks.h for what is checked.
#include <cstddef>
#include <cstdint>

#include "fuzz_target.h"
#include "info_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const instar::fuzz::FormatEntry* format = instar::fuzz::find_format("vmdk");
    if (!format) instar::fuzz::invariant_failed("vmdk probe is not in this build");
    instar::fuzz::require(instar::fuzz::check_info(*format, data, size));
    return 0;
}
