// Where format code reads and writes image bytes. In the guest these sit on
// virtio-blk devices; in unit tests and fuzzers on memory buffers.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats {

// Read access to an existing image (an input device).
class ImageSource {
public:
    virtual ~ImageSource() = default;
    // Exact byte length of the file.
    virtual uint64_t size() const = 0;
    // Reads [offset, offset+len). Bytes past size() read as zero; returns
    // false only on a device error.
    virtual bool read(uint64_t offset, void* buf, size_t len) = 0;
    // Whether the file holds data from `offset` (< size()) or a hole, and
    // for how many bytes (at least 1): what lseek's SEEK_DATA/SEEK_HOLE say
    // of the file, as qemu's file driver asks. Runs may be rounded out to
    // whole sectors. Without such knowledge, all data. False on a device
    // error.
    virtual bool allocation(uint64_t offset, uint64_t& bytes, bool& data) {
        bytes = size() - offset;
        data = true;
        return true;
    }
};

// Write access to a new image (the output device). The output starts empty:
// bytes never written read back as zero and take no space, so emitters write
// only non-zero metadata and say how long the file is with set_size().
class ImageSink {
public:
    virtual ~ImageSink() = default;
    virtual bool write(uint64_t offset, const void* data, size_t len) = 0;
    // Allocate [offset, offset+len) on disk as zeroes (preallocation=falloc
    // or full; `full` asks for zeroes really written, as qemu-img does).
    virtual bool preallocate(uint64_t offset, uint64_t len, bool full) = 0;
    // Final byte length of the image.
    virtual bool set_size(uint64_t size) = 0;
};

}  // namespace instar::formats
