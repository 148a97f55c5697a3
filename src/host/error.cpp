#include "host/error.h"

#include <cstring>

namespace instar {

void throw_errno(const std::string& what, int errno_value) {
    throw Error(what + ": " + std::strerror(errno_value));
}

}  // namespace instar
