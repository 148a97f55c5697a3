#include "guest/block_io.h"

#include "abi/memory_map.h"
#include "abi/virtio.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/platform.h"

namespace instar::guest {
namespace v = abi::virtio;
namespace {

// The device may write into heap memory (the host accepts any guest-writable
// RAM as a buffer; the heap is the part format code hands out).
bool device_can_fill(const void* p, size_t len) {
    uint64_t a = platform::gpa_of(p);
    return a >= abi::kHeapBase && a <= abi::kHeapEnd && len <= abi::kHeapEnd - a;
}

}  // namespace

DeviceSource::DeviceSource(VirtioBlk& device, uint64_t size)
    : DeviceSource(device, size, static_cast<uint8_t*>(heap().alloc(kBounceBytes, 4096, false))) {}

DeviceSource::DeviceSource(VirtioBlk& device, uint64_t size, uint8_t* bounce)
    : device_(device), size_(size), buffer_(bounce) {}

bool DeviceSource::allocation(uint64_t offset, uint64_t& bytes, bool& data) {
    const uint64_t sector = offset / v::kSectorSize;
    if (offset >= size_ || sector >= device_.capacity_bytes() / v::kSectorSize) return false;
    v::BlkAllocation answer{};
    if (!device_.transfer(v::kBlkTInstarAllocation, sector, &answer, sizeof answer)) return false;
    // The device is not trusted with the arithmetic below.
    const uint64_t left = device_.capacity_bytes() / v::kSectorSize - sector;
    if (answer.sectors == 0 || answer.sectors > left || answer.data > 1) return false;
    bytes = answer.sectors * v::kSectorSize - (offset - sector * v::kSectorSize);
    data = answer.data == 1;
    return true;
}

bool DeviceSource::read(uint64_t offset, void* buf, size_t len) {
    auto* out = static_cast<uint8_t*>(buf);
    while (len) {
        // Past the device's end everything reads as zero.
        if (offset >= device_.capacity_bytes()) {
            memset(out, 0, len);
            return true;
        }
        // Whole sectors go straight into the caller's buffer: no copy, and
        // no first touch of bounce pages (each one a costly fault in the
        // guest).
        if (offset % v::kSectorSize == 0 && len >= v::kSectorSize && device_can_fill(out, len)) {
            uint64_t most = device_.max_request_bytes() / v::kSectorSize * v::kSectorSize;
            if (most < v::kSectorSize) most = v::kSectorSize;
            uint64_t bytes = len / v::kSectorSize * v::kSectorSize;
            if (bytes > device_.capacity_bytes() - offset) bytes = device_.capacity_bytes() - offset;
            if (bytes > most) bytes = most;
            if (!device_.transfer(v::kBlkTIn, offset / v::kSectorSize, out, uint32_t(bytes))) return false;
            out += bytes;
            offset += bytes;
            len -= size_t(bytes);
            continue;
        }
        uint64_t start = offset / v::kSectorSize * v::kSectorSize;
        uint64_t skip = offset - start;
        uint64_t span = skip + len;
        if (span > kBounceBytes) span = kBounceBytes;
        uint64_t bytes = (span + v::kSectorSize - 1) / v::kSectorSize * v::kSectorSize;
        if (start + bytes > device_.capacity_bytes()) bytes = device_.capacity_bytes() - start;
        if (!device_.transfer(v::kBlkTIn, start / v::kSectorSize, buffer_, uint32_t(bytes))) return false;
        size_t take = size_t(bytes - skip < len ? bytes - skip : len);
        memcpy(out, buffer_ + skip, take);
        out += take;
        offset += take;
        len -= take;
    }
    return true;
}

DeviceSink::DeviceSink(VirtioBlk& device)
    : device_(device), buffer_(static_cast<uint8_t*>(heap().alloc(kBounceBytes, 4096, false))) {}

bool DeviceSink::write(uint64_t offset, const void* data, size_t len) {
    const uint64_t block = device_.block_size();
    if (kBounceBytes % block) return false;
    auto* in = static_cast<const uint8_t*>(data);
    while (len) {
        // Whole blocks from heap memory go to the device as they are (a
        // convert's data): no copy through the bounce buffer.
        if (offset % block == 0 && len >= block && device_can_fill(in, len)) {
            uint64_t most = device_.max_request_bytes() / block * block;
            if (most < block) most = block;
            uint64_t bytes = len / block * block;
            if (bytes > most) bytes = most;
            if (offset + bytes > device_.capacity_bytes()) return false;
            if (!device_.transfer(v::kBlkTOut, offset / v::kSectorSize, const_cast<uint8_t*>(in), uint32_t(bytes)))
                return false;
            in += bytes;
            offset += bytes;
            len -= size_t(bytes);
            continue;
        }
        uint64_t start = offset / block * block;
        uint64_t skip = offset - start;
        uint64_t take = kBounceBytes - skip < len ? kBounceBytes - skip : len;
        uint64_t bytes = (skip + take + block - 1) / block * block;
        if (start + bytes > device_.capacity_bytes()) return false;
        // Blocks only partly covered keep what the device already holds.
        if (skip && !device_.transfer(v::kBlkTIn, start / v::kSectorSize, buffer_, uint32_t(block))) return false;
        if ((skip + take) % block && (skip + take > block || !skip)) {
            uint64_t last = bytes - block;
            if (!device_.transfer(v::kBlkTIn, (start + last) / v::kSectorSize, buffer_ + last, uint32_t(block)))
                return false;
        }
        memcpy(buffer_ + skip, in, take);
        if (!device_.transfer(v::kBlkTOut, start / v::kSectorSize, buffer_, uint32_t(bytes))) return false;
        in += take;
        offset += take;
        len -= size_t(take);
    }
    return true;
}

bool DeviceSink::preallocate(uint64_t offset, uint64_t len, bool) {
    // The host knows from the command line whether allocated zeroes must be
    // written (full) or only reserved (falloc); the request is the same.
    if (!device_.can_write_zeroes() || offset % v::kSectorSize || len % v::kSectorSize) return false;
    while (len) {
        uint64_t sectors = len / v::kSectorSize;
        if (sectors > 0xffffffffu) sectors = 0xffffffffu & ~uint64_t(7);
        // On the stack: guest RAM the device may read on every platform.
        v::BlkWriteZeroes wz{offset / v::kSectorSize, uint32_t(sectors), 0};
        if (!device_.transfer(v::kBlkTWriteZeroes, 0, &wz, sizeof wz)) return false;
        offset += sectors * v::kSectorSize;
        len -= sectors * v::kSectorSize;
    }
    return true;
}

bool DeviceSink::set_size(uint64_t size) {
    final_size_ = size;
    size_set_ = true;
    return true;
}

}  // namespace instar::guest
