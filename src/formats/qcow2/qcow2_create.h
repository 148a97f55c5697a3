// `create` for qcow2: the image qemu-img 7.2 writes for the same options,
// byte for byte.
#pragma once

#include "formats/common/emitter.h"

namespace instar::formats {

Status qcow2_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

}  // namespace instar::formats
