// `create -f vpc`: writes a VHD image byte-identical to qemu-img 7.2's
// (apart from the timestamp, UUID and footer checksum, which come from the
// request's timestamp and entropy).
#pragma once

#include "formats/common/emitter.h"

namespace instar::formats {

// Entropy use: request->entropy[0..15] becomes the footer UUID (stamped as
// a version-4 UUID, as qemu does). The footer timestamp is
// request->timestamp moved to the VHD epoch (2000-01-01), wrapped to 32 bits.
Status vpc_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

}  // namespace instar::formats
