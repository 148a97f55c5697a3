// The random and time-dependent fields of a new image (UUIDs, CIDs,
// timestamps) come from the host: fresh from getrandom and the clock, or,
// with --deterministic or SOURCE_DATE_EPOCH, derived from the request itself
// so the same command gives the same bytes.
#pragma once

#include "abi/ops/create.h"

namespace instar::cli {

void fill_identity(abi::CreateRequest& request, bool deterministic);

}  // namespace instar::cli
