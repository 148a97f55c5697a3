#include "host/block_backend.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/virtio.h"
#include "host/guest_fault.h"

namespace instar {
namespace v = abi::virtio;
namespace {

// A view of part of an iovec list, cut at byte offsets.
struct IoList {
    iovec iov[kMaxChainLength];
    int count = 0;
    uint64_t bytes = 0;
};

IoList slice(const iovec* iov, uint32_t n, uint64_t skip, uint64_t length) {
    IoList out;
    for (uint32_t i = 0; i < n && length; ++i) {
        uint64_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        uint64_t take = len - skip < length ? len - skip : length;
        out.iov[out.count++] = iovec{static_cast<uint8_t*>(iov[i].iov_base) + skip, take};
        out.bytes += take;
        length -= take;
        skip = 0;
    }
    return out;
}

uint64_t total(const iovec* iov, uint32_t n) {
    uint64_t t = 0;
    for (uint32_t i = 0; i < n; ++i) t += iov[i].iov_len;
    return t;
}

// preadv/pwritev until done. Reads past the end of the file fill zeroes
// (a file's last sector may be partial). False on an I/O error.
bool transfer(int fd, IoList list, uint64_t offset, bool write) {
    int first = 0;
    while (first < list.count) {
        ssize_t n = write ? pwritev(fd, list.iov + first, list.count - first, off_t(offset))
                          : preadv(fd, list.iov + first, list.count - first, off_t(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) {
            if (write) return false;
            for (int i = first; i < list.count; ++i) std::memset(list.iov[i].iov_base, 0, list.iov[i].iov_len);
            return true;
        }
        offset += uint64_t(n);
        uint64_t done = uint64_t(n);
        while (first < list.count && done >= list.iov[first].iov_len) done -= list.iov[first++].iov_len;
        if (first < list.count) {
            list.iov[first].iov_base = static_cast<uint8_t*>(list.iov[first].iov_base) + done;
            list.iov[first].iov_len -= done;
        }
    }
    return true;
}

uint8_t run(BlockBackend& b, uint32_t type, uint64_t sector, const IoList& data) {
    switch (type) {
    case v::kBlkTIn:
    case v::kBlkTOut: {
        if (data.bytes % v::kSectorSize) return v::kBlkSIoErr;
        if (sector > b.capacity_sectors || data.bytes / v::kSectorSize > b.capacity_sectors - sector)
            return v::kBlkSIoErr;  // beyond the declared capacity
        uint64_t offset = sector * v::kSectorSize;
        if (type == v::kBlkTOut) {
            if (b.read_only) return v::kBlkSIoErr;
            if (offset % b.block_size || data.bytes % b.block_size) return v::kBlkSIoErr;
            if (data.bytes > uint64_t(v::kBlkSegMax) * v::kBlkSizeMax) return v::kBlkSIoErr;
        }
        return transfer(b.fd, data, offset, type == v::kBlkTOut) ? v::kBlkSOk : v::kBlkSIoErr;
    }
    case v::kBlkTFlush:
        if (b.read_only) return v::kBlkSOk;
        return fdatasync(b.fd) == 0 ? v::kBlkSOk : v::kBlkSIoErr;
    default:
        return v::kBlkSUnsupp;
    }
}

}  // namespace

uint32_t execute_block_request(BlockBackend& b, const DescriptorChain& chain) {
    v::BlkRequestHeader header;
    IoList head = slice(chain.readable, chain.readable_count, 0, sizeof header);
    if (head.bytes != sizeof header) throw GuestFault("block request without a complete header");
    uint64_t writable = total(chain.writable, chain.writable_count);
    if (writable == 0) throw GuestFault("block request without a status byte");
    for (int i = 0, at = 0; i < head.count; at += int(head.iov[i].iov_len), ++i)
        std::memcpy(reinterpret_cast<uint8_t*>(&header) + at, head.iov[i].iov_base, head.iov[i].iov_len);

    // The status byte is the last device-writable byte; data sits between.
    IoList status = slice(chain.writable, chain.writable_count, writable - 1, 1);
    IoList data = header.type == v::kBlkTIn
                      ? slice(chain.writable, chain.writable_count, 0, writable - 1)
                      : slice(chain.readable, chain.readable_count, sizeof header,
                              total(chain.readable, chain.readable_count) - sizeof header);
    for (int i = 0; i < data.count; ++i)
        if (data.iov[i].iov_len > v::kBlkSizeMax) {
            *static_cast<uint8_t*>(status.iov[0].iov_base) = v::kBlkSIoErr;
            return 1;
        }
    uint8_t result = run(b, header.type, header.sector, data);
    *static_cast<uint8_t*>(status.iov[0].iov_base) = result;
    bool read_ok = header.type == v::kBlkTIn && result == v::kBlkSOk;
    return uint32_t((read_ok ? data.bytes : 0) + 1);
}

}  // namespace instar
