// `info`: what input device 0 holds, as a typed InfoResult for the host to
// render. The image is read only through the device; nothing else exists.
#include "abi/ops/info.h"
#include "formats/info.h"
#include "guest/block_io.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/op.h"

namespace instar::guest {
namespace {

constexpr size_t kScratchBytes = 40u << 20;

// Lists go to the host as record messages.
class HostRecords final : public formats::RecordSink {
public:
    void put(uint32_t kind, const void* record, size_t size) override {
        send_record(abi::OpId::info, kind, record, size);
    }
};

void info_main(const abi::BootConfig& config) {
    abi::InfoRequest req;
    if (config.op_config_size != sizeof req || config.input_count != 1) fail(abi::GuestError::bad_config);
    memcpy(&req, config.op_config, sizeof req);
    if (req.requested_format > uint32_t(abi::BackingFormat::vhdx) || (req.flags & ~abi::kInfoUnsafeQuirks))
        fail(abi::GuestError::bad_config);

    VirtioBlk dev;
    if (!dev.init(0)) fail(abi::GuestError::device_missing);
    DeviceSource src(dev, config.devices[0].size_bytes);
    void* scratch = heap().alloc(kScratchBytes, 4096, false);
    if (!src.ok() || !scratch) fail(abi::GuestError::out_of_memory);
    formats::Arena arena(scratch, kScratchBytes, /*known_zero=*/true);  // fresh heap memory

    static abi::InfoResult result;  // 7 KiB: kept off the stack
    HostRecords records;
    formats::Status s = formats::read_image_info(src, arena, abi::BackingFormat(req.requested_format),
                                                 req.flags & abi::kInfoUnsafeQuirks, records, result);
    if (s != formats::kOk) fail(s);
    send_result(abi::OpId::info, result);
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(3, instar::abi::OpId::info, instar::guest::info_main);
