// The write side of the block layer: a new image of some format, as
// qemu-img convert creates it and then fills it through that format's
// driver. Each format opens a writer (FormatDriver::open_writer) from the
// request `create` would get; the writer first lays the new image out as
// `create` does, then places guest data the way qemu 7.2's driver places
// it (its allocation order, its tables), so the file comes out byte for
// byte as qemu-img convert's.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/ops/create.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/status.h"

namespace instar::formats {

class ImageWriter {
public:
    virtual ~ImageWriter() = default;

    // Guest bytes [offset, offset + len): whole sectors inside the disk.
    // Writes arrive in increasing guest order without overlapping, as
    // qemu-img convert issues them without -W; a range never written reads
    // as zeroes.
    virtual Status write(uint64_t offset, const uint8_t* data, uint64_t len) = 0;

    // convert -c: one whole cluster (cluster_size(); the disk's last may be
    // shorter) through the driver's compressed write. unsupported_feature
    // where the format has none.
    virtual Status write_compressed(uint64_t, const uint8_t*, uint64_t) { return Status::unsupported_feature; }

    // What qemu's bdrv_get_info reports as the new image's cluster size
    // (convert -c writes one of these at a time), or 0 where it has none.
    virtual uint64_t cluster_size() const = 0;

    // The disk's length as the image records it: the request's, or more
    // where the format rounds it up (vpc's CHS geometry).
    virtual uint64_t virtual_size() const = 0;

    // Writes the metadata still held back and sets the file's length.
    virtual Status finish() = 0;

    // The file's final length (after finish()).
    virtual uint64_t file_size() const = 0;
};

// What a format's open_writer is handed.
struct WriterOpenParams {
    // The image to create, as `create` would be asked for it, sized
    // `virtual_size` (the sources' total).
    const abi::CreateRequest& request;
    uint64_t virtual_size;
    // The new, empty output file: bytes never written read as zeroes.
    ImageSink& sink;
    // The writer and every table it keeps live here, bounded whatever the
    // disk's size.
    Arena& arena;
    // convert -c: writes come through write_compressed.
    bool compress;
};

// Creates the image through `p.sink` and opens a writer on it in `p.arena`.
// Refuses what `create` refuses for the request, and `compress` where the
// format (or this subformat) has no compressed writes.
using OpenWriterFn = Status (*)(const WriterOpenParams& p, ImageWriter*& out);

}  // namespace instar::formats
