// Why a guest operation failed: the one vocabulary of failure shared by the
// format code, the guest runtime (ErrorMessage in abi/messages.h) and the
// host, which maps each code to its own text.
#pragma once

#include <stdint.h>

namespace instar::abi {

// Why an operation failed. The host maps each code to its own message text;
// the guest's detail string is only shown with --verbose.
enum class GuestError : uint32_t {
    none = 0,
    bad_config = 1,             // boot config failed the guest's own checks
    device_missing = 2,         // an expected virtio device is absent or broken
    read_failed = 3,            // a read request came back with an error
    write_failed = 4,           // write to output device failed
    output_too_small = 5,       // output device capacity exceeded
    out_of_memory = 6,          // guest scratch exhausted
    invalid_option = 7,         // invalid option for target format
    size_out_of_range = 8,      // virtual size out of range for format
    scratch_exceeded = 9,       // option combination exceeds guest scratch
    backing_header_unreadable = 10,  // failed to read backing file header
    backing_format_unsupported = 11, // backing file format not supported
    backing_path_too_long = 12,      // backing file path too long
    format_unsupported = 13,         // target format not supported
    image_invalid = 14,              // the image's bytes are not a valid image
    image_format_unknown = 15,       // no known format recognised
    image_format_mismatch = 16,      // bytes contradict the requested format
    unsupported_feature = 17,        // a valid image uses something not supported
    internal = 18,                   // a guest-side invariant failed
};
inline constexpr uint32_t kGuestErrorCount = 19;

}  // namespace instar::abi
