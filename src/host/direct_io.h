// -t none / directsync: the output written as qemu's cache=none writes it,
// bypassing the page cache with O_DIRECT. The file is opened a second time
// with O_DIRECT (through /proc/self/fd, so an unnamed O_TMPFILE output works
// too); the block backend sends the requests that meet the kernel's
// alignment through it and the rest through the buffered descriptor, where
// qemu would bounce them through an aligned buffer.
#pragma once

#include <cstdint>
#include <string>

namespace instar {

class DirectDescriptor {
public:
    DirectDescriptor() = default;
    ~DirectDescriptor();
    DirectDescriptor(const DirectDescriptor&) = delete;
    DirectDescriptor& operator=(const DirectDescriptor&) = delete;

    // Opens `fd`'s file again with O_DIRECT. Throws instar::Error in
    // qemu-img's words ("Could not open 'NAME': ...") where the file
    // system refuses direct I/O, as qemu's open fails there.
    void open(int fd, const std::string& shown_name);

    int fd() const { return fd_; }
    // What the kernel requires of direct I/O on this file (statx's
    // STATX_DIOALIGN); 4096 each where it does not say.
    uint32_t offset_align() const { return offset_align_; }
    uint32_t memory_align() const { return memory_align_; }

private:
    int fd_ = -1;
    uint32_t offset_align_ = 0;
    uint32_t memory_align_ = 0;
};

}  // namespace instar
