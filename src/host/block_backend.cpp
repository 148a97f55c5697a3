#include "host/block_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <thread>

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

void zero_fill(const IoList& list) {
    for (int i = 0; i < list.count; ++i) std::memset(list.iov[i].iov_base, 0, list.iov[i].iov_len);
}

// True when [offset, offset+len) of the file holds no data at all (a hole,
// or past the end): such reads are served as zeroes without touching the
// file, as qemu's own block-status check lets qemu-img skip holes.
bool is_hole(int fd, uint64_t offset, uint64_t len) {
    off_t data = lseek(fd, off_t(offset), SEEK_DATA);
    if (data < 0) return errno == ENXIO;
    return uint64_t(data) >= offset + len;
}

// The descriptor for moving `list` at `offset`: the O_DIRECT one when
// everything is aligned for it.
int io_fd(const BlockBackend& b, const IoList& list, uint64_t offset) {
    if (b.direct_fd < 0 || offset % b.direct_offset_align || list.bytes % b.direct_offset_align) return b.fd;
    for (int i = 0; i < list.count; ++i)
        if (reinterpret_cast<uintptr_t>(list.iov[i].iov_base) % b.direct_memory_align ||
            list.iov[i].iov_len % b.direct_memory_align)
            return b.fd;
    return b.direct_fd;
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
            std::copy(list.iov + first, list.iov + list.count, list.iov);
            list.count -= first;
            zero_fill(list);
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

bool all_zero(const IoList& list) {
    for (int i = 0; i < list.count; ++i) {
        const auto* p = static_cast<const uint8_t*>(list.iov[i].iov_base);
        size_t n = list.iov[i].iov_len;
        // Word-at-a-time; the compiler vectorises this loop.
        size_t words = n / 8;
        uint64_t acc = 0;
        for (size_t w = 0; w < words; ++w) {
            uint64_t x;
            std::memcpy(&x, p + 8 * w, 8);
            acc |= x;
            if ((w & 511) == 511 && acc) return false;
        }
        for (size_t j = words * 8; j < n; ++j) acc |= p[j];
        if (acc) return false;
    }
    return true;
}

// A write to the output, kept sparse: runs of all-zero blocks are not
// written. Where such a run lies below data written earlier, it becomes a
// hole, so the file still reads back exactly what the guest wrote.
bool write_sparse(BlockBackend& b, const IoList& data, uint64_t offset) {
    uint64_t pos = 0;
    while (pos < data.bytes) {
        bool zero = all_zero(slice(data.iov, data.count, pos, b.block_size));
        uint64_t end = pos + b.block_size;
        while (end < data.bytes && all_zero(slice(data.iov, data.count, end, b.block_size)) == zero)
            end += b.block_size;
        uint64_t at = offset + pos, len = end - pos;
        if (!zero) {
            if (!transfer(b.fd, slice(data.iov, data.count, pos, len), at, true)) return false;
            if (at + len > b.data_end) b.data_end = at + len;
        } else if (at < b.data_end) {
            uint64_t punch = b.data_end - at < len ? b.data_end - at : len;
            if (fallocate(b.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(at), off_t(punch)) < 0) {
                // No hole punching on this file system: write the zeroes.
                if (!transfer(b.fd, slice(data.iov, data.count, pos, punch), at, true)) return false;
            }
        }
        pos = end;
    }
    return true;
}

// Runs the caller's checkpoint, if any: it throws to stop the request.
void checkpoint_if(const std::function<void()>& checkpoint) {
    if (checkpoint) checkpoint();
}

// Zeroes written over [at, at+len), a checkpoint before each slice.
bool write_zero_bytes(int fd, uint64_t at, uint64_t len, const std::function<void()>& checkpoint) {
    static const uint8_t zeros[1 << 16] = {};
    for (uint64_t done = 0; done < len;) {
        checkpoint_if(checkpoint);
        const uint64_t slice_end = std::min(len, done + kBlockSliceBytes);
        while (done < slice_end) {
            size_t n = size_t(std::min<uint64_t>(sizeof zeros, slice_end - done));
            ssize_t w = pwrite(fd, zeros, n, off_t(at + done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            done += uint64_t(w);
        }
    }
    return true;
}

// fallocate(2) itself, not posix_fallocate(3): where the file system has
// no fallocate (ramfs, NFSv3, older ZFS, some FUSE), glibc's fallback first
// asks fcntl(F_GETFL) and fstatfs, which the sandbox forbids, and the
// process died of SIGSYS. qemu-img 7.2 calls posix_fallocate and so gets
// that fallback, which writes a zero into every block, and succeeds:
// EOPNOTSUPP here tells the caller to write the zeroes (the same image,
// every block allocated). Returns an errno.
int reserve(int fd, off_t at, off_t len) {
    int r;
    do r = fallocate(fd, 0, at, len);
    while (r < 0 && errno == EINTR);
    return r == 0 ? 0 : errno;
}

// Holds a write of `bytes` back for as long as the throttle says.
void throttle(BlockBackend& b, uint64_t bytes, const std::function<void()>& throttled) {
    if (!b.throttle.active()) return;
    constexpr auto kStep = std::chrono::milliseconds(100);
    for (auto wait = b.throttle.wait(WriteThrottle::Clock::now()); wait.count() > 0;
         wait = b.throttle.wait(WriteThrottle::Clock::now())) {
        std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(wait, kStep));
        if (throttled) throttled();
    }
    b.throttle.account(bytes, WriteThrottle::Clock::now());
}

// WRITE_ZEROES: zeroes that are allocated on disk (as qemu's falloc and
// full preallocation), or, with "unmap", a hole.
uint8_t write_zeroes(BlockBackend& b, const IoList& data, const std::function<void()>& checkpoint,
                     const std::function<void()>& throttled) {
    if (b.read_only) return v::kBlkSIoErr;
    if (data.bytes != sizeof(v::BlkWriteZeroes) * v::kBlkWriteZeroesMaxSeg) return v::kBlkSIoErr;
    v::BlkWriteZeroes wz;
    uint8_t* dst = reinterpret_cast<uint8_t*>(&wz);
    for (int i = 0; i < data.count; dst += data.iov[i].iov_len, ++i)
        copy_from_guest(dst, data.iov[i].iov_base, data.iov[i].iov_len);
    if (wz.flags & ~v::kBlkWriteZeroesUnmap) return v::kBlkSUnsupp;
    if (wz.sector > b.capacity_sectors || wz.num_sectors > b.capacity_sectors - wz.sector)
        throw GuestFault("write-zeroes request beyond the device's capacity");
    const off_t at = off_t(wz.sector * v::kSectorSize), len = off_t(uint64_t(wz.num_sectors) * v::kSectorSize);
    // qemu's throttle counts a zero write's length as a write's.
    throttle(b, uint64_t(len), throttled);
    if (wz.flags & v::kBlkWriteZeroesUnmap)
        return fallocate(b.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, len) == 0 ? v::kBlkSOk : v::kBlkSIoErr;
    if (!b.allocate_by_writing) {
        int error = reserve(b.fd, at, len);
        if (error == 0) return v::kBlkSOk;
        if (error != EOPNOTSUPP) return v::kBlkSIoErr;
    }
    if (!write_zero_bytes(b.fd, uint64_t(at), uint64_t(len), checkpoint)) return v::kBlkSIoErr;
    if (uint64_t(at + len) > b.data_end) b.data_end = uint64_t(at + len);
    return v::kBlkSOk;
}

// kBlkTInstarAllocation: the data or hole run of the file from `sector`,
// as qemu's file driver finds it (find_allocation): no information counts
// as data, and past the file's end is a hole.
uint8_t allocation(BlockBackend& b, uint64_t sector, const IoList& data) {
    if (data.bytes != sizeof(v::BlkAllocation) || data.count != 1) return v::kBlkSIoErr;
    if (sector >= b.capacity_sectors) throw GuestFault("allocation query beyond the device's capacity");
    const uint64_t left = b.capacity_sectors - sector;
    const off_t at = off_t(sector * v::kSectorSize);
    v::BlkAllocation answer{left, 1, 0};
    const off_t next_data = lseek(b.fd, at, SEEK_DATA);
    if (next_data < 0) {
        if (errno == ENXIO) answer.data = 0;
    } else if (next_data == at) {
        const off_t hole = lseek(b.fd, at, SEEK_HOLE);
        if (hole > at) answer.sectors = std::min<uint64_t>(left, (uint64_t(hole - at) + v::kSectorSize - 1) / v::kSectorSize);
    } else {
        answer.data = 0;
        answer.sectors = std::clamp<uint64_t>(uint64_t(next_data - at) / v::kSectorSize, 1, left);
    }
    std::memcpy(data.iov[0].iov_base, &answer, sizeof answer);
    return v::kBlkSOk;
}

// Reads and writes, in slices: a checkpoint comes before every
// kBlockSliceBytes moved (a slice stays a whole number of blocks, as
// write_sparse needs).
bool read_or_write(BlockBackend& b, uint32_t type, const IoList& data, uint64_t offset,
                   const std::function<void()>& checkpoint) {
    const uint64_t step = std::max<uint64_t>(b.block_size, kBlockSliceBytes - kBlockSliceBytes % b.block_size);
    for (uint64_t done = 0; done < data.bytes; done += step) {
        checkpoint_if(checkpoint);
        IoList part = slice(data.iov, data.count, done, std::min(step, data.bytes - done));
        uint64_t at = offset + done;
        bool ok;
        if (type == v::kBlkTIn) {
            ok = true;
            if (is_hole(b.fd, at, part.bytes)) zero_fill(part);
            else ok = transfer(io_fd(b, part, at), part, at, false);
        } else {
            ok = b.detect_zeroes ? write_sparse(b, part, at) : transfer(io_fd(b, part, at), part, at, true);
        }
        if (!ok) return false;
    }
    return true;
}

uint8_t run(BlockBackend& b, uint32_t type, uint64_t sector, const IoList& data,
            const std::function<void()>& checkpoint, const std::function<void()>& throttled) {
    switch (type) {
    case v::kBlkTIn:
    case v::kBlkTOut: {
        if (data.bytes % v::kSectorSize) return v::kBlkSIoErr;
        // A driver knows the capacity; going past it is an attack, not an
        // I/O error, and ends the run.
        if (sector > b.capacity_sectors || data.bytes / v::kSectorSize > b.capacity_sectors - sector)
            throw GuestFault("block request beyond the device's capacity");
        uint64_t offset = sector * v::kSectorSize;
        if (type == v::kBlkTOut) {
            if (b.read_only) return v::kBlkSIoErr;
            if (offset % b.block_size || data.bytes % b.block_size) return v::kBlkSIoErr;
            if (data.bytes > uint64_t(v::kBlkSegMax) * v::kBlkSizeMax) return v::kBlkSIoErr;
            throttle(b, data.bytes, throttled);
        }
        return read_or_write(b, type, data, offset, checkpoint) ? v::kBlkSOk : v::kBlkSIoErr;
    }
    case v::kBlkTWriteZeroes:
        return write_zeroes(b, data, checkpoint, throttled);
    case v::kBlkTInstarAllocation:
        return allocation(b, sector, data);
    case v::kBlkTFlush:
        if (b.read_only) return v::kBlkSOk;
        return fdatasync(b.fd) == 0 ? v::kBlkSOk : v::kBlkSIoErr;
    default:
        return v::kBlkSUnsupp;
    }
}

}  // namespace

uint32_t execute_block_request(BlockBackend& b, const DescriptorChain& chain,
                               const std::function<void()>& checkpoint, const std::function<void()>& throttled) {
    v::BlkRequestHeader header;
    IoList head = slice(chain.readable, chain.readable_count, 0, sizeof header);
    if (head.bytes != sizeof header) throw GuestFault("block request without a complete header");
    uint64_t writable = total(chain.writable, chain.writable_count);
    if (writable == 0) throw GuestFault("block request without a status byte");
    for (int i = 0, at = 0; i < head.count; at += int(head.iov[i].iov_len), ++i)
        copy_from_guest(reinterpret_cast<uint8_t*>(&header) + at, head.iov[i].iov_base, head.iov[i].iov_len);

    // The status byte is the last device-writable byte; data sits between.
    IoList status = slice(chain.writable, chain.writable_count, writable - 1, 1);
    const bool device_writes = header.type == v::kBlkTIn || header.type == v::kBlkTInstarAllocation;
    IoList data = device_writes
                      ? slice(chain.writable, chain.writable_count, 0, writable - 1)
                      : slice(chain.readable, chain.readable_count, sizeof header,
                              total(chain.readable, chain.readable_count) - sizeof header);
    for (int i = 0; i < data.count; ++i)
        if (data.iov[i].iov_len > v::kBlkSizeMax) {
            *static_cast<uint8_t*>(status.iov[0].iov_base) = v::kBlkSIoErr;
            return 1;
        }
    uint8_t result = run(b, header.type, header.sector, data, checkpoint, throttled);
    *static_cast<uint8_t*>(status.iov[0].iov_base) = result;
    bool read_ok = device_writes && result == v::kBlkSOk;
    return uint32_t((read_ok ? data.bytes : 0) + 1);
}

}  // namespace instar
