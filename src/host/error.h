// Host-side failures carry one line of text for the user. The CLI prints
// it as "instar: SUBCOMMAND: TEXT" and exits with status 1.
#pragma once

#include <stdexcept>
#include <string>

namespace instar {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "TEXT: strerror(errno_value)"
[[noreturn]] void throw_errno(const std::string& what, int errno_value);

}  // namespace instar
