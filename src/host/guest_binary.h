// Finds the flat binary of a guest operation: the one embedded in the
// executable, or `$INSTAR_GUEST_DIR/<op>.bin` when that variable is set
// (development, and the hostile-guest tests).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace instar {

std::vector<uint8_t> load_guest_binary(const std::string& op_name);

}  // namespace instar
