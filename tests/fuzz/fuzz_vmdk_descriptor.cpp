// The vmdk embedded-descriptor readers (vmdk_desc_parse.h) on arbitrary
// text, NULs included, in an exact-size buffer.
#include <cstddef>
#include <cstdint>

#include "format_checks.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    instar::fuzz::require(instar::fuzz::check_vmdk_descriptor(data, size));
    return 0;
}
