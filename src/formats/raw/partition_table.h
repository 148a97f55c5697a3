// Whether a raw disk carries an MBR or GPT partition table. instar reports
// a file with no recognised image header as raw only when it does (or when
// the user says -f raw): treating any unknown bytes as a raw disk is what
// let crafted images pass backing-file and format-confusion attacks.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats {

// head: the file's first bytes (at least 1024 when the file has them).
bool has_partition_table(const uint8_t* head, size_t len);

}  // namespace instar::formats
