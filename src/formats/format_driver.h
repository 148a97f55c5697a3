// One table entry per image format with everything the guest operations
// call it for: its signature, a backing file's basic facts, what `info`
// shows, creating an image and reading its content. The operations and the
// detection look a format up here instead of switching on it, as qemu's
// BlockDriver tables are looked up.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "abi/format.h"
#include "abi/ops/info.h"
#include "formats/block/block_reader.h"
#include "formats/block/image_writer.h"
#include "formats/common/arena.h"
#include "formats/common/emitter.h"
#include "formats/common/image_io.h"
#include "formats/common/probe.h"
#include "formats/common/record_sink.h"
#include "formats/common/status.h"
#include "formats/vmdk/vmdk_info.h"

namespace instar::formats {

// What `info`'s reader of any format is handed besides `src`: scratch, the
// file's first bytes (kProbeHeadBytes, already read), where its lists go,
// and the files a vmdk descriptor's extents live in once the host has
// attached them.
struct InfoReadContext {
    ImageSource& src;
    Arena& arena;
    const uint8_t* head;
    size_t head_len;
    RecordSink& records;
    VmdkExtentFiles& vmdk_extent_files;
};

struct FormatDriver {
    abi::Format format;
    // True when the file's first bytes carry the format's signature;
    // nullptr for raw, which has none (the format of bytes that match no
    // other).
    bool (*detect)(const uint8_t* head, size_t len);
    // A backing file's facts (virtual size, CID), with qemu's open checks.
    Status (*read_basic)(ImageSource& src, Arena& arena, BasicImageInfo& out);
    // What `info` shows.
    Status (*read_info)(const InfoReadContext& ctx, abi::InfoResult& out);
    // Writes a new image; nullptr where the host creates it itself (raw).
    EmitFn emit;
    // The image's content for convert and map (block status and reads);
    // every format has one (vmdk: single-file sparse images so far).
    OpenReaderFn open_reader;
    // A new image filled as qemu-img convert fills it; nullptr for raw,
    // which the host creates and the guest writes at the guest offsets.
    OpenWriterFn open_writer;
};

// The entry for `format`; nullptr for none and for a number that is no
// format.
const FormatDriver* format_driver(abi::Format format);

// The formats with a signature, in the order detection tries them.
struct SignedFormats {
    const FormatDriver* const* begin() const;
    const FormatDriver* const* end() const;
};
inline constexpr SignedFormats kSignedFormats{};

}  // namespace instar::formats
