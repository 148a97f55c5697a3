// `create`: writes a new image's metadata to the output device with the
// emitter of the requested format. With a backing file attached (input
// device 0) it first reads the backing file's size and, for vmdk, its CID.
#include "abi/ops/create.h"
#include "formats/detect.h"
#include "formats/format_driver.h"
#include "guest/block_io.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/log.h"
#include "guest/op.h"

namespace instar::guest {
namespace {

constexpr size_t kScratchBytes = 40u << 20;

void create_main(const abi::BootConfig& config) {
    static abi::CreateRequest req;  // large: kept off the stack
    if (config.op_config_size != sizeof req || !config.has_output) fail(abi::GuestError::bad_config);
    memcpy(&req, config.op_config, sizeof req);
    // raw has no emitter: the host creates raw images itself.
    const formats::FormatDriver* driver = formats::format_driver(abi::Format(req.format));
    const formats::EmitFn emit = driver ? driver->emit : nullptr;
    if (!emit) fail(abi::GuestError::format_unsupported);

    VirtioBlk out;
    if (!out.init(abi::kOutputDeviceIndex) || out.read_only()) fail(abi::GuestError::device_missing);
    DeviceSink sink(out);
    void* scratch = heap().alloc(kScratchBytes, 4096, false);
    if (!sink.ok() || !scratch) fail(abi::GuestError::out_of_memory);
    formats::Arena arena(scratch, kScratchBytes, /*known_zero=*/true);  // fresh heap memory

    formats::EmitInput in{&req, req.size, false, 0};
    if (req.flags & abi::kCreateBackingAttached) {
        if (config.input_count != 1) fail(abi::GuestError::bad_config);
        VirtioBlk backing_dev;
        if (!backing_dev.init(0)) fail(abi::GuestError::device_missing);
        DeviceSource backing(backing_dev, config.devices[0].size_bytes);
        if (!backing.ok()) fail(abi::GuestError::out_of_memory);
        formats::DetectedImage found;
        formats::Status s = formats::detect_image(backing, arena, abi::Format(req.backing_format), found);
        if (s == abi::GuestError::image_format_mismatch) fail(abi::GuestError::backing_format_unsupported);
        if (s != formats::kOk) fail(abi::GuestError::backing_header_unreadable);
        if (!(req.flags & abi::kCreateHasSize)) in.virtual_size = found.info.virtual_size;
        in.has_parent_cid = found.info.has_cid;
        in.parent_cid = found.info.cid;
        arena.reset();
    }

    formats::EmitOutput result{};
    formats::Status s = emit(in, sink, arena, result);
    if (s != formats::kOk) fail(s);
    if (verbose()) log(Text<96>() << "emitter used " << uint64_t(arena.used()) << " bytes of scratch");
    if (!sink.size_set() || sink.final_size() != result.file_size) fail(abi::GuestError::internal, "emitter set no size");
    if (!out.transfer(abi::virtio::kBlkTFlush, 0, nullptr, 0)) fail(abi::GuestError::write_failed);
    send_result(abi::OpId::create,
                abi::CreateResult{result.virtual_size, result.metadata_bytes, result.file_size, result.unit_size});
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(2, instar::abi::OpId::create, instar::guest::create_main);
