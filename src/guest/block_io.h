// Byte-addressed access to the block devices for format code: ImageSource
// over an input device, ImageSink over the output. Both turn arbitrary
// offsets and lengths into whole-sector (input) or whole-block (output)
// requests through a bounce buffer; reads of whole sectors into heap memory
// skip it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/image_io.h"
#include "guest/virtio_blk.h"

namespace instar::guest {

// Bounce buffer size: a multiple of every block size the output allows.
inline constexpr uint32_t kBounceBytes = 1u << 20;

class DeviceSource : public formats::ImageSource {
public:
    // `size` is the file's exact length from the boot config.
    DeviceSource(VirtioBlk& device, uint64_t size);
    // With a bounce buffer (kBounceBytes) shared by sources read one after
    // another (the many extent files of one vmdk).
    DeviceSource(VirtioBlk& device, uint64_t size, uint8_t* bounce);
    bool ok() const { return buffer_ != nullptr; }
    uint64_t size() const override { return size_; }
    bool read(uint64_t offset, void* buf, size_t len) override;
    bool allocation(uint64_t offset, uint64_t& bytes, bool& data) override;

private:
    VirtioBlk& device_;
    uint64_t size_;
    uint8_t* buffer_;
};

class DeviceSink : public formats::ImageSink {
public:
    explicit DeviceSink(VirtioBlk& device);
    bool ok() const { return buffer_ != nullptr; }
    bool write(uint64_t offset, const void* data, size_t len) override;
    bool preallocate(uint64_t offset, uint64_t len, bool full) override;
    bool set_size(uint64_t size) override;

    uint64_t final_size() const { return final_size_; }
    bool size_set() const { return size_set_; }

private:
    VirtioBlk& device_;
    uint8_t* buffer_;
    uint64_t final_size_ = 0;
    bool size_set_ = false;
};

}  // namespace instar::guest
