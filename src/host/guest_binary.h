// Finds the flat binary of a guest operation: the one embedded in the
// executable. Only in instar-testhooks (built with INSTAR_TEST_HOOKS, for
// the hostile-guest tests and the launch benchmark) may
// `$INSTAR_GUEST_DIR/<op>.bin` replace it; `instar` itself never looks at
// the environment, so an installed binary always runs its own guests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace instar {

std::vector<uint8_t> load_guest_binary(const std::string& op_name);

}  // namespace instar
