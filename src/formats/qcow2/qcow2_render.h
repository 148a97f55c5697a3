// Writes the bytes of a planned image: the header cluster, refcount table
// and blocks, L1 and L2 tables, and the remains of replaced refcount
// tables qemu leaves behind. Only non-zero bytes are written, except
// where they must cover stale bytes underneath.
#pragma once

#include <stdint.h>

#include "../common/arena.h"
#include "../common/image_io.h"
#include "../common/status.h"
#include "qcow2_options.h"
#include "qcow2_plan.h"

namespace instar::formats::qcow2 {

Status render_image(const CreateParams& params, const ImagePlan& plan, Arena& arena, ImageSink& sink,
                    uint64_t& bytes_written);

}  // namespace instar::formats::qcow2
