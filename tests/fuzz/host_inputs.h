// Layouts of the host targets' fuzz inputs, shared with the seed generator
// (make_seeds.cpp) so seeds and targets cannot drift apart.
#pragma once

#include <cstddef>
#include <cstdint>

#include "abi/virtio.h"

namespace instar::fuzz {

// fuzz_virtqueue and fuzz_virtio_mmio run in a small guest RAM: the code
// under test only ever compares addresses against RAM size and DMA ranges,
// and a small RAM keeps per-run resets and ASan poisoning cheap.
inline constexpr uint64_t kFuzzRam = 2u << 20;
inline constexpr uint64_t kFuzzDmaStart = 0x10000;          // default DMA range, as the heap is
inline constexpr uint64_t kFuzzDmaEnd = kFuzzRam - 0x1000;  // last page: guard, as in the real map
inline constexpr uint32_t kFuzzMaxFile = 256u << 10;        // bytes of the disk file at start
inline constexpr uint32_t kFuzzMaxCapacity = 32768;         // sectors of a writable device (16 MiB)
inline constexpr uint32_t kFuzzMaxRequests = 512;           // chains popped per run

// Header flags.
inline constexpr uint8_t kVqReadOnly = 1 << 0;
inline constexpr uint8_t kVqDetectZeroes = 1 << 1;
inline constexpr uint8_t kVqAllocateByWriting = 1 << 2;
inline constexpr uint8_t kVqRawAddresses = 1 << 3;  // ring addresses not folded into RAM

// fuzz_virtqueue input: this header, then the descriptor table (16 bytes x
// queue_size, placed at desc_gpa), then the avail ring (6 + 2 x queue_size
// bytes, at avail_gpa), then everything left (at data_gpa). Short inputs
// leave the rest zero; later placements overwrite earlier ones.
struct VirtqueueHeader {
    uint16_t queue_size;  // as the driver would program it: checked by SplitQueue
    uint8_t flags;        // kVq*
    uint8_t block_shift;  // block size = 512 << (block_shift % 8)
    uint32_t file_size;   // % (kFuzzMaxFile + 1)
    uint32_t capacity;    // sectors, writable devices only: % (kFuzzMaxCapacity + 1); inputs: the file's
    uint32_t data_gpa;    // % kFuzzRam
    uint64_t desc_gpa;    // % (kFuzzRam + 4096) unless kVqRawAddresses
    uint64_t avail_gpa;
    uint64_t used_gpa;
    uint32_t dma_start[3];  // host-set DMA ranges, % (kFuzzRam + 4096);
    uint32_t dma_end[3];    // all ends zero: the default range
};
static_assert(sizeof(VirtqueueHeader) == 64);

// fuzz_virtio_mmio input: this header (the VirtqueueHeader's ring addresses
// unused: the ops program them), then `ops_offset` bytes of guest memory
// contents placed at vq.data_gpa, then MmioOps (register accesses, in
// order) to the end.
struct MmioHeader {
    VirtqueueHeader vq;
    uint32_t ops_offset;  // bytes after this header where the ops begin (clamped)
    uint32_t reserved;
};
static_assert(sizeof(MmioHeader) == 72);

struct MmioOp {
    uint8_t kind;      // 0 read, 1 write, else write (notify is a write)
    uint8_t size_log;  // access size 1 << (size_log % 4): what KVM can report
    uint16_t offset;   // within the 4 KiB window
    uint32_t value;
};
static_assert(sizeof(MmioOp) == 8);

}  // namespace instar::fuzz
