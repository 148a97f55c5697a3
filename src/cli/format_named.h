// The format a command line (-f, -F, backing_fmt) or an image's backing
// format field names, by qemu's driver names (abi/format.h).
#pragma once

#include <optional>
#include <string_view>

#include "abi/format.h"

namespace instar::cli {

// nullopt when the name is no format instar reads.
inline std::optional<abi::Format> format_named(std::string_view name) {
    const abi::Format f = abi::format_from_name(name.data(), name.size());
    if (f == abi::Format::none) return std::nullopt;
    return f;
}

}  // namespace instar::cli
