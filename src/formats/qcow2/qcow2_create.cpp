#include "formats/qcow2/qcow2_create.h"

#include "formats/qcow2/qcow2_header.h"
#include "formats/qcow2/qcow2_options.h"
#include "formats/qcow2/qcow2_plan.h"
#include "formats/qcow2/qcow2_render.h"

namespace instar::formats {

[[maybe_unused]] static constexpr EmitFn kMatchesEmitterContract = &qcow2_emit;

Status qcow2_emit(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out) {
    if (!in.request) return Status::invalid_option;
    qcow2::CreateParams params;
    Status st = qcow2::parse_create_request(*in.request, in.virtual_size, params);
    if (st != kOk) return st;

    // The whole layout is decided before the first write, so a refused
    // request leaves the output untouched.
    qcow2::ImagePlan plan;
    st = qcow2::plan_image(params, arena, plan);
    if (st != kOk) return st;
    // qemu stores the backing file name last, after resizing the image.
    if (!qcow2::header_fits(params)) return Status::backing_path_too_long;

    if (plan.has_prealloc) {
        const bool full = params.prealloc == abi::Preallocation::full;
        if (!sink.preallocate(plan.prealloc.offset, plan.prealloc.len, full)) return Status::write_failed;
    }
    uint64_t written = 0;
    st = qcow2::render_image(params, plan, arena, sink, written);
    if (st != kOk) return st;
    if (!sink.set_size(plan.alloc.file_end())) return Status::write_failed;

    out.virtual_size = params.size;
    out.metadata_bytes = written;
    out.file_size = plan.alloc.file_end();
    out.unit_size = plan.alloc.cluster_size();
    return kOk;
}

}  // namespace instar::formats
