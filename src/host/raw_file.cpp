#include "host/raw_file.h"

#include <unistd.h>

#include <cerrno>

#include "abi/virtio.h"
#include "host/error.h"

namespace instar {

void size_new_raw_file(int fd, uint64_t size) {
    if (ftruncate(fd, off_t(size)) < 0) throw_errno("Could not resize file", errno);
    if (size == 0) return;
    static const char zeros[kRawFirstBlockBytes] = {};
    const size_t n = size < kRawFirstBlockBytes ? size_t(abi::virtio::kSectorSize) : sizeof zeros;
    ssize_t w;
    do w = pwrite(fd, zeros, n, 0);
    while (w < 0 && errno == EINTR);
    // qemu ignores a failure here too: the block is only a hint.
    (void)w;
}

}  // namespace instar
