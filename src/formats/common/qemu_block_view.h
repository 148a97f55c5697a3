// How qemu's block layer presents an image file to a format driver, for
// probes that must accept and refuse exactly what qemu-img does:
//  - the file is a whole number of 512-byte sectors, the last one padded
//    with zeros (bdrv_getlength rounds up);
//  - reads past the end return zeros;
//  - a read fails outright if it ends beyond BDRV_MAX_LENGTH or is longer
//    than BDRV_REQUEST_MAX_BYTES.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/image_io.h"

namespace instar::formats {

inline constexpr uint64_t kQemuSectorSize = 512;
// INT64_MAX rounded down to qemu's largest alignment (1 GiB).
inline constexpr uint64_t kQemuMaxLength = uint64_t(INT64_MAX) & ~((uint64_t(1) << 30) - 1);
// INT_MAX rounded down to whole sectors.
inline constexpr uint64_t kQemuMaxRequestBytes = uint64_t(INT32_MAX) & ~(kQemuSectorSize - 1);

// Whether qemu's block layer opens the file at all: its length in whole
// sectors must be an int64_t of bytes (bdrv_getlength; otherwise "Could
// not refresh total sector count: File too large", whatever the format).
inline bool qemu_can_open(const ImageSource& src) {
    return src.size() <= uint64_t(INT64_MAX) - (kQemuSectorSize - 1);
}

// Only for a file qemu_can_open() allows.
inline uint64_t qemu_file_length(const ImageSource& src) {
    uint64_t n = src.size();
    return n + ((kQemuSectorSize - n % kQemuSectorSize) % kQemuSectorSize);
}

inline bool qemu_can_read(uint64_t offset, uint64_t len) {
    return offset <= kQemuMaxLength && len <= kQemuMaxLength - offset && len <= kQemuMaxRequestBytes;
}

// A read qemu_can_read() allows: bytes past the end come back as zeros.
// Only the part inside the file is asked of `src`, so no request ever
// reaches past its end, whatever offset an image names.
inline bool qemu_read(ImageSource& src, uint64_t offset, uint8_t* buf, size_t len) {
    const uint64_t size = src.size();
    const size_t inside = offset >= size ? 0 : (len < size - offset ? len : size_t(size - offset));
    if (inside < len) __builtin_memset(buf + inside, 0, len - inside);
    return inside == 0 || src.read(offset, buf, inside);
}

}  // namespace instar::formats
