// Where the vpc footer's UUID comes from in CreateRequest::entropy; it is
// stamped like qemu's (common/uuid.h).
#pragma once

#include <stdint.h>

namespace instar::formats::vpc {

// Bytes of CreateRequest::entropy the footer UUID is made from.
inline constexpr uint32_t kUuidEntropyOffset = 0;

}  // namespace instar::formats::vpc
