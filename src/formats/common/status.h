// Format code reports failure with the same codes the guest sends to the
// host, so nothing translates between two vocabularies.
#pragma once

#include "abi/status.h"

namespace instar::formats {

using Status = abi::GuestError;
inline constexpr Status kOk = Status::none;

}  // namespace instar::formats
