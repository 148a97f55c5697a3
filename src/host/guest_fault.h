// The guest broke the rules of the interface (a bad descriptor, a malformed
// message, an access to nothing). The run ends; the user sees one line.
#pragma once

#include <string>

#include "abi/messages.h"
#include "host/error.h"

namespace instar {

class GuestFault : public Error {
public:
    explicit GuestFault(const std::string& what) : Error(what) {}
};

// The guest ran correctly and reported that the operation failed, with a
// code the caller may turn into its own wording.
class GuestFailed : public Error {
public:
    GuestFailed(abi::GuestError code, const std::string& what) : Error(what), code_(code) {}
    abi::GuestError code() const { return code_; }

private:
    abi::GuestError code_;
};

}  // namespace instar
