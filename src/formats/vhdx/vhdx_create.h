// `create -f vhdx`: writes a VHDX image byte-identical to qemu-img 7.2's
// apart from its random identity (see vhdx_identity.h for which entropy
// bytes become which field) and the header checksums that cover it.
#pragma once

#include "formats/common/emitter.h"

namespace instar::formats {

Status vhdx_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

}  // namespace instar::formats
