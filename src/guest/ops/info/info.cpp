// `info`: what input device 0 holds, as a typed InfoResult for the host to
// render. The image is read only through the devices; nothing else exists.
// Devices 1.. are present only on the second run for a vmdk descriptor:
// the extent files the first run named, in its order.
#include "abi/ops/info.h"
#include "formats/info.h"
#include "guest/block_io.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/op.h"

namespace instar::guest {
namespace {

constexpr size_t kScratchBytes = 40u << 20;
// The second run reads a descriptor (at most 1 MiB) and small extent
// headers; the heap left over holds a virtqueue per extent device.
constexpr size_t kExtentRunScratchBytes = 4u << 20;

// Lists go to the host as record messages.
class HostRecords final : public formats::RecordSink {
public:
    void put(uint32_t kind, const void* record, size_t size) override {
        send_record(abi::OpId::info, kind, record, size);
    }
};

// Each extent file's device is set up only when its header is read (flat
// extents never are), all sharing one bounce buffer.
class ExtentDevices final : public formats::VmdkExtentFiles {
public:
    ExtentDevices(const abi::BootConfig& config, uint8_t* bounce) : config_(config), bounce_(bounce) {}

    uint32_t count() const override { return config_.input_count - 1; }

    formats::Status read(uint32_t index, Reader& reader) override {
        if (index >= count()) return formats::Status::internal;
        VirtioBlk dev;
        if (!dev.init(index + 1)) return formats::Status::device_missing;
        DeviceSource src(dev, config_.devices[index + 1].size_bytes, bounce_);
        return reader.read(src);
    }

private:
    const abi::BootConfig& config_;
    uint8_t* bounce_;
};

void info_main(const abi::BootConfig& config) {
    abi::InfoRequest req;
    if (config.op_config_size != sizeof req || config.input_count < 1) fail(abi::GuestError::bad_config);
    memcpy(&req, config.op_config, sizeof req);
    if (req.requested_format > uint32_t(abi::Format::vhdx) || (req.flags & ~abi::kInfoUnsafeQuirks))
        fail(abi::GuestError::bad_config);

    VirtioBlk dev;
    if (!dev.init(0)) fail(abi::GuestError::device_missing);
    auto* bounce = static_cast<uint8_t*>(heap().alloc(kBounceBytes, 4096, false));
    const size_t scratch_bytes = config.input_count > 1 ? kExtentRunScratchBytes : kScratchBytes;
    void* scratch = heap().alloc(scratch_bytes, 4096, false);
    if (!bounce || !scratch) fail(abi::GuestError::out_of_memory);
    DeviceSource src(dev, config.devices[0].size_bytes, bounce);
    formats::Arena arena(scratch, scratch_bytes, /*known_zero=*/true);  // fresh heap memory

    static abi::InfoResult result;  // kept off the stack
    HostRecords records;
    ExtentDevices extents(config, bounce);
    formats::Status s = formats::read_image_info(src, arena, abi::Format(req.requested_format),
                                                 req.flags & abi::kInfoUnsafeQuirks, extents, records, result);
    if (s != formats::kOk) fail(s);
    send_result(abi::OpId::info, result);
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(3, instar::abi::OpId::info, instar::guest::info_main);
