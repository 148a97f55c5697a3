// `probe`: detects the format of input device 0 and reads its virtual size
// (and vmdk CID), for `create -b` on the host side.
#include "abi/ops/probe.h"
#include "formats/detect.h"
#include "guest/block_io.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/op.h"

namespace instar::guest {
namespace {

constexpr size_t kScratchBytes = 32u << 20;

void probe_main(const abi::BootConfig& config) {
    abi::ProbeRequest req;
    if (config.op_config_size != sizeof req || config.input_count != 1) fail(abi::GuestError::bad_config);
    memcpy(&req, config.op_config, sizeof req);
    if (req.requested_format > uint32_t(abi::Format::vhdx)) fail(abi::GuestError::bad_config);

    VirtioBlk dev;
    if (!dev.init(0)) fail(abi::GuestError::device_missing);
    DeviceSource src(dev, config.devices[0].size_bytes);
    void* scratch = heap().alloc(kScratchBytes, 4096, false);
    if (!src.ok() || !scratch) fail(abi::GuestError::out_of_memory);
    formats::Arena arena(scratch, kScratchBytes, /*known_zero=*/true);  // fresh heap memory

    formats::DetectedImage found;
    formats::Status s = formats::detect_image(src, arena, abi::Format(req.requested_format), found);
    if (s != formats::kOk) fail(s);
    abi::ProbeResult r{uint32_t(found.format), found.info.has_cid ? 1u : 0u, found.info.cid, 0, found.info.virtual_size};
    send_result(abi::OpId::probe, r);
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(4, instar::abi::OpId::probe, instar::guest::probe_main);
