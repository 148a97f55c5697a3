// Writes the bytes of a planned image: the header cluster, refcount table
// and blocks, L1 and L2 tables, and the remains of replaced refcount
// tables qemu leaves behind. Only non-zero bytes are written, except
// where they must cover stale bytes underneath.
#pragma once

#include <stdint.h>

#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"
#include "formats/qcow2/qcow2_options.h"
#include "formats/qcow2/qcow2_plan.h"

namespace instar::formats::qcow2 {

Status render_image(const CreateParams& params, const ImagePlan& plan, Arena& arena, ImageSink& sink,
                    uint64_t& bytes_written);

}  // namespace instar::formats::qcow2
