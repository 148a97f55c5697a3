// Guest-supplied text is never printed raw: bytes outside printable ASCII
// (and the backslash itself) become \xNN, so a hostile image cannot inject
// terminal escapes or fake output lines.
#pragma once

#include <string>
#include <string_view>

namespace instar {

std::string escape_untrusted(std::string_view text);

}  // namespace instar
