// The contract every create-emitter (qcow2, vmdk, vpc, vhdx) follows.
#pragma once

#include <stdint.h>

#include "abi/ops/create.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats {

// What the guest op learned before emitting: the resolved virtual size
// (the request's, or the backing file's when no size was given) and, for a
// vmdk child, the parent's CID.
struct EmitInput {
    const abi::CreateRequest* request;
    uint64_t virtual_size;
    bool has_parent_cid;
    uint32_t parent_cid;
};

struct EmitOutput {
    uint64_t virtual_size;    // as the image records it (vpc rounds to CHS)
    uint64_t metadata_bytes;  // bytes passed to ImageSink::write
    uint64_t file_size;       // value passed to ImageSink::set_size
    uint64_t unit_size;       // cluster / grain / block size used
};

// Writes through a sink and counts the bytes as metadata written.
class MetadataWriter {
public:
    MetadataWriter(ImageSink& sink, EmitOutput& out) : sink_(sink), out_(out) {}
    bool write(uint64_t offset, const void* data, size_t len) {
        if (!sink_.write(offset, data, len)) return false;
        out_.metadata_bytes += len;
        return true;
    }

private:
    ImageSink& sink_;
    EmitOutput& out_;
};

// Each emitter: checks every request field it uses (refusing with
// invalid_option / size_out_of_range / scratch_exceeded), writes the image
// through `sink`, fills `out`. Writes are issued in increasing offset order
// where possible. No heap, no exceptions: scratch comes from `arena`.
using EmitFn = Status (*)(const EmitInput& in, ImageSink& sink, Arena& arena, EmitOutput& out);

}  // namespace instar::formats
