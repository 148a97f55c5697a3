// A BAT entry changed through the log, as qemu 7.2's vhdx driver changes
// one (vhdx_log_write_and_flush with the 8 bytes of the entry): the
// entry's 4 KiB sector, as the file holds it with the new entry merged in,
// is logged as one entry of one data descriptor, and the entry replayed at
// once, which writes that sector over the BAT. The log is then empty again
// (the header's log GUID goes back to zero) but its sectors keep the
// entries written.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/vhdx/vhdx_layout.h"

namespace instar::formats::vhdx {

struct LogEntrySpec {
    uint64_t sequence;        // qemu's log sequence: 1 for the first entry
    uint32_t tail;            // where the entry starts in the log
    const uint8_t* log_guid;  // a new one for each entry
    uint64_t file_length;     // flushed and last file offset: the file's length
    uint64_t target;          // file offset of the sector the entry carries
};

// An entry's length: the header sector (the 64-byte entry header and the
// one descriptor) and the data sector.
inline constexpr uint32_t kBatLogEntryBytes = 2 * kLogSectorSize;

// The entry carrying `sector` (kLogSectorSize bytes, already merged) into
// `out` (kBatLogEntryBytes), checksummed.
void build_bat_log_entry(const LogEntrySpec& spec, const uint8_t* sector, uint8_t* out);

}  // namespace instar::formats::vhdx
