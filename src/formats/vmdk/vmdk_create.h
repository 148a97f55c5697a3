// `create -f vmdk`: monolithicSparse and streamOptimized images, byte for
// byte as qemu-img 7.2 writes them.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/emitter.h"
#include "formats/vmdk/vmdk_create_plan.h"

namespace instar::formats {

// Follows EmitFn. The CID comes from request->entropy bytes 0..3
// (little-endian); nothing else in the image is random or time-dependent.
Status vmdk_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

namespace vmdk {

// The embedded descriptor of the image `plan` describes, with `cid` on its
// CID line, into desc[0, kDescriptorBytes): the text (text_bytes long),
// then zeroes.
Status render_descriptor(const CreatePlan& plan, uint32_t cid, char* desc, size_t& text_bytes);

}  // namespace vmdk

}  // namespace instar::formats
