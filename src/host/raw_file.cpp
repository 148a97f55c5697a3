#include "host/raw_file.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

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

namespace {

void write_zeroes(int fd, uint64_t size, const std::string& name) {
    static const std::vector<uint8_t> zeros(1 << 20, 0);
    for (uint64_t at = 0; at < size;) {
        size_t n = size_t(std::min<uint64_t>(zeros.size(), size - at));
        ssize_t w = pwrite(fd, zeros.data(), n, off_t(at));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw_errno(name + ": Could not write zeros for preallocation", w < 0 ? errno : ENOSPC);
        at += uint64_t(w);
    }
}

}  // namespace

void create_raw_file(int fd, uint64_t size, abi::Preallocation mode, const std::string& name) {
    if (mode == abi::Preallocation::off) {
        size_new_raw_file(fd, size);
        return;
    }
    if (ftruncate(fd, off_t(size)) < 0) throw_errno("Could not resize file", errno);
    if (mode == abi::Preallocation::falloc && size) {
        int rc;
        do {
            rc = fallocate(fd, 0, 0, off_t(size));
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) return;
        if (errno != EOPNOTSUPP) throw_errno(name + ": Could not preallocate new data", errno);
        write_zeroes(fd, size, name);
    } else if (mode == abi::Preallocation::full) {
        write_zeroes(fd, size, name);
    }
}

void apply_file_hints(int fd, const HostFileHints& hints) {
    if (hints.nocow) {
        int flags = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
            flags |= FS_NOCOW_FL;
            (void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
        }
    }
    if (hints.extent_size_hint) {
        fsxattr attr{};
        if (ioctl(fd, FS_IOC_FSGETXATTR, &attr) == 0) {
            attr.fsx_xflags |= FS_XFLAG_EXTSIZE;
            attr.fsx_extsize = *hints.extent_size_hint;
            (void)ioctl(fd, FS_IOC_FSSETXATTR, &attr);
        }
    }
}

}  // namespace instar
