// The host's side of `info`: arbitrary bytes (and sizes) as the guest's
// InfoResult payload. The validator refuses or accepts; what it accepts
// stays within its arrays and renders, human and JSON, without a crash,
// raw control bytes or invalid JSON. See info_checks.h for the input
// layout.
#include <cstddef>
#include <cstdint>

#include "fuzz_target.h"
#include "info_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    instar::fuzz::require(instar::fuzz::check_validate(data, size));
    return 0;
}
