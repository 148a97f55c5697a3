// A new raw image file as qemu-img makes one (file-posix): the file is
// sized with ftruncate, and its first block is written with zeroes, so the
// file is never wholly a hole (qemu probes O_DIRECT alignment on the first
// block; `info` then shows "disk size: 4 KiB" and `map` data there).
#pragma once

#include <cstdint>
#include <string>

namespace instar {

// What qemu's allocate_first_block writes: one sector when the file is
// shorter than this, else this much.
inline constexpr uint64_t kRawFirstBlockBytes = 4096;

// `fd`: a new, empty file.
void size_new_raw_file(int fd, uint64_t size);

}  // namespace instar
