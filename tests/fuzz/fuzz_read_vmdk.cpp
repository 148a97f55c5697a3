// The vmdk block reader (single-file sparse images, deflated grains
// included) on arbitrary file bytes (raw, or the sparse form of
// fuzz_image.h): see read_checks.h for what must hold.
#include <cstddef>
#include <cstdint>

#include "formats/vmdk/vmdk_reader.h"
#include "fuzz_target.h"
#include "read_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    instar::fuzz::require(
        instar::fuzz::check_read(instar::abi::Format::vmdk, instar::formats::vmdk_open_reader, data, size));
    return 0;
}
