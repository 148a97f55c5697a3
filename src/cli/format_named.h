// The format a command line (-f, -F, backing_fmt) or an image's backing
// format field names, by qemu's driver names (abi/format_names.h).
#pragma once

#include <optional>
#include <string_view>

#include "abi/format_names.h"

namespace instar::cli {

// nullopt when the name is no format instar reads.
inline std::optional<abi::BackingFormat> format_named(std::string_view name) {
    const abi::BackingFormat f = abi::backing_format_named(name.data(), name.size());
    if (f == abi::BackingFormat::none) return std::nullopt;
    return f;
}

}  // namespace instar::cli
