#include "host/direct_io.h"

// linux/stat.h's struct statx has the direct I/O fields glibc's lacks.
#include <fcntl.h>
#include <linux/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "host/error.h"

namespace instar {
namespace {

// Alignment that satisfies every file system when the kernel does not say
// (before Linux 6.1): a page.
constexpr uint32_t kSafeAlign = 4096;

bool power_of_two(uint32_t v) { return v && !(v & (v - 1)); }

}  // namespace

DirectDescriptor::~DirectDescriptor() {
    if (fd_ >= 0) close(fd_);
}

void DirectDescriptor::open(int fd, const std::string& shown_name) {
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    fd_ = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd_ < 0)
        throw Error("Could not open '" + shown_name + "': Could not open '" + shown_name + "': " +
                    std::strerror(errno));
    struct statx stx {};
    offset_align_ = memory_align_ = kSafeAlign;
    if (syscall(SYS_statx, fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
        // Zero: this file takes no direct I/O (the open above would
        // normally have failed already).
        if (stx.stx_dio_offset_align == 0)
            throw Error("Could not open '" + shown_name + "': Could not open '" + shown_name + "': " +
                        std::strerror(EINVAL));
        if (power_of_two(stx.stx_dio_offset_align) && power_of_two(stx.stx_dio_mem_align)) {
            offset_align_ = stx.stx_dio_offset_align;
            memory_align_ = stx.stx_dio_mem_align;
        }
    }
}

}  // namespace instar
