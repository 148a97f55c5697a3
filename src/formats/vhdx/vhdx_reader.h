// The block reader of a VHDX image (fixed and dynamic), as qemu 7.2's vhdx
// driver reads one: each payload block by its BAT entry's state.
#pragma once

#include "formats/block/block_reader.h"

namespace instar::formats {

// Opens with vhdx_open's checks (qemu's, read-only), so refuses what `info`
// refuses: image_invalid for a damaged image, unsupported_feature for what
// qemu will not open (a log to replay, a differencing image, 4 KiB logical
// sectors, unknown required regions or metadata). qemu's vhdx driver takes
// no backing file nor data file: one given is refused (invalid_option).
//
// Block status is qemu's: its vhdx driver has none, so qemu's block layer
// calls the whole disk data, without an offset in the file (`qemu-img map`
// shows one data entry); here too, every answer is data from the offset
// asked to the end (or max_bytes), with no host offset. What the BAT says
// shows in read(): payload blocks not present, undefined, zero or unmapped
// read as zeroes, fully present ones from the file, and any other state
// (partially present, which only a differencing image may have, or 4,
// which is none) fails the read with image_invalid, as qemu's fails (EIO).
Status vhdx_open_reader(const ReaderOpenParams& p, BlockReader*& out);

}  // namespace instar::formats
