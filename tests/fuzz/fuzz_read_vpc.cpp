// The vpc block reader on arbitrary file bytes (raw, or the sparse form of
// fuzz_image.h), its checksums repaired: see read_checks.h for what must
// hold.
#include <cstddef>
#include <cstdint>

#include "formats/vpc/vpc_reader.h"
#include "fuzz_target.h"
#include "read_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    instar::fuzz::require(
        instar::fuzz::check_read(instar::abi::Format::vpc, instar::formats::vpc_open_reader, data, size));
    return 0;
}
