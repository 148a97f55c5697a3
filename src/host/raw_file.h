// A new raw image file as qemu-img makes one (file-posix): the file is
// sized with ftruncate, and its first block is written with zeroes, so the
// file is never wholly a hole (qemu probes O_DIRECT alignment on the first
// block; `info` then shows "disk size: 4 KiB" and `map` data there).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "abi/ops/create.h"

namespace instar {

// What qemu's allocate_first_block writes: one sector when the file is
// shorter than this, else this much.
inline constexpr uint64_t kRawFirstBlockBytes = 4096;

// `fd`: a new, empty file.
void size_new_raw_file(int fd, uint64_t size);

// A new raw image of `size` bytes with qemu's preallocation modes: off as
// size_new_raw_file; falloc reserves with fallocate(2) (qemu 7.2 calls
// posix_fallocate, whose fallback on a file system without fallocate is
// writing a zero into every block: done here the same way); full writes
// zeroes. `name` words the errors.
void create_raw_file(int fd, uint64_t size, abi::Preallocation mode, const std::string& name);

// Best-effort attributes qemu's file protocol sets on a new image file (and
// ignores failure of): FS_NOCOW_FL and the XFS extent size hint. Not part
// of the image bytes.
struct HostFileHints {
    bool nocow = false;
    std::optional<uint32_t> extent_size_hint;  // only when -o extent_size_hint was given
};
void apply_file_hints(int fd, const HostFileHints& hints);

}  // namespace instar
