// The guest broke the rules of the interface (a bad descriptor, a malformed
// message, an access to nothing). The run ends; the user sees one line.
#pragma once

#include <string>

#include "host/error.h"

namespace instar {

class GuestFault : public Error {
public:
    explicit GuestFault(const std::string& what) : Error(what) {}
};

}  // namespace instar
