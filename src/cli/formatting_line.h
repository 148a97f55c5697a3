// qemu-img create's "Formatting 'FILENAME', fmt=FMT key=value ..." line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "cli/create_options.h"

namespace instar::cli {

// The key=value pairs qemu-img 7.2 prints, in its order: every key of the
// format (then of the file protocol) in declaration order that was set or
// has a default. Strings print as typed with ',' doubled; numbers and
// sizes print as signed 64-bit decimals when set (so size=8E prints
// negative, as in qemu), as their default text when not; booleans print as
// typed ("y", "true", ...).
std::vector<std::pair<std::string, std::string>> formatting_options(const CreatePlan& plan);

// The whole line, without the newline.
std::string formatting_line(const CreatePlan& plan);

}  // namespace instar::cli
