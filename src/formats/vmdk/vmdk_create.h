// `create -f vmdk`: monolithicSparse and streamOptimized images, byte for
// byte as qemu-img 7.2 writes them.
#pragma once

#include "formats/common/emitter.h"

namespace instar::formats {

// Follows EmitFn. The CID comes from request->entropy bytes 0..3
// (little-endian); nothing else in the image is random or time-dependent.
Status vmdk_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

}  // namespace instar::formats
