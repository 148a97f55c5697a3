// virtio 1.x definitions used by both sides: the virtio-mmio (version 2)
// register layout, the split virtqueue structures and virtio-blk requests.
// Numbers are those of the virtio 1.1 specification, sections 2.6, 4.2.2
// and 5.2.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::abi::virtio {

// --- virtio-mmio registers (offsets into the device's window) ---
inline constexpr uint32_t kMagicValue = 0x74726976;  // "virt"
inline constexpr uint32_t kMmioVersion = 2;
inline constexpr uint32_t kDeviceIdBlock = 2;
inline constexpr uint32_t kVendorId = 0x52534e49;  // "INSR"

enum MmioRegister : uint32_t {
    kRegMagic = 0x000,
    kRegVersion = 0x004,
    kRegDeviceId = 0x008,
    kRegVendorId = 0x00c,
    kRegDeviceFeatures = 0x010,
    kRegDeviceFeaturesSel = 0x014,
    kRegDriverFeatures = 0x020,
    kRegDriverFeaturesSel = 0x024,
    kRegQueueSel = 0x030,
    kRegQueueNumMax = 0x034,
    kRegQueueNum = 0x038,
    kRegQueueReady = 0x044,
    kRegQueueNotify = 0x050,
    kRegInterruptStatus = 0x060,
    kRegInterruptAck = 0x064,
    kRegStatus = 0x070,
    kRegQueueDescLow = 0x080,
    kRegQueueDescHigh = 0x084,
    kRegQueueDriverLow = 0x090,
    kRegQueueDriverHigh = 0x094,
    kRegQueueDeviceLow = 0x0a0,
    kRegQueueDeviceHigh = 0x0a4,
    kRegConfigGeneration = 0x0fc,
    kRegConfig = 0x100,
};

// Device status bits.
inline constexpr uint32_t kStatusAcknowledge = 1;
inline constexpr uint32_t kStatusDriver = 2;
inline constexpr uint32_t kStatusDriverOk = 4;
inline constexpr uint32_t kStatusFeaturesOk = 8;
inline constexpr uint32_t kStatusFailed = 128;

// Feature bits.
inline constexpr uint64_t kBlkFSizeMax = 1ull << 1;
inline constexpr uint64_t kBlkFSegMax = 1ull << 2;
inline constexpr uint64_t kBlkFRo = 1ull << 5;
inline constexpr uint64_t kBlkFBlkSize = 1ull << 6;
inline constexpr uint64_t kBlkFFlush = 1ull << 9;
inline constexpr uint64_t kBlkFWriteZeroes = 1ull << 14;
inline constexpr uint64_t kFVersion1 = 1ull << 32;

// virtio-blk configuration space (the part instar uses).
struct BlkConfig {
    uint64_t capacity;  // in 512-byte sectors
    uint32_t size_max;  // largest single segment, bytes
    uint32_t seg_max;   // most data segments in one request
    uint8_t geometry[4];
    uint32_t blk_size;  // logical block size: requests are aligned to it
    uint8_t topology[8];
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
};
static_assert(offsetof(BlkConfig, size_max) == 8);
static_assert(offsetof(BlkConfig, seg_max) == 12);
static_assert(offsetof(BlkConfig, blk_size) == 20);
static_assert(offsetof(BlkConfig, max_write_zeroes_sectors) == 48);
static_assert(offsetof(BlkConfig, write_zeroes_may_unmap) == 56);
static_assert(sizeof(BlkConfig) == 64);  // 60 bytes of fields, padded to 8

inline constexpr uint64_t kSectorSize = 512;

// --- split virtqueue ---
inline constexpr uint16_t kDescFNext = 1;
inline constexpr uint16_t kDescFWrite = 2;
inline constexpr uint16_t kDescFIndirect = 4;
inline constexpr uint16_t kAvailFNoInterrupt = 1;

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Desc) == 16);

struct UsedElem {
    uint32_t id;
    uint32_t len;
};
static_assert(sizeof(UsedElem) == 8);

// Ring layouts for a queue of n entries (n a power of two):
//   avail: flags u16, idx u16, ring[n] u16, used_event u16
//   used:  flags u16, idx u16, ring[n] UsedElem, avail_event u16
constexpr uint64_t desc_table_bytes(uint32_t n) { return 16ull * n; }
constexpr uint64_t avail_ring_bytes(uint32_t n) { return 6ull + 2ull * n; }
constexpr uint64_t used_ring_bytes(uint32_t n) { return 6ull + 8ull * n; }

// The queue size instar's device offers; the driver may choose less.
inline constexpr uint32_t kQueueSizeMax = 256;

// --- virtio-blk requests ---
inline constexpr uint32_t kBlkTIn = 0;
inline constexpr uint32_t kBlkTOut = 1;
inline constexpr uint32_t kBlkTFlush = 4;
inline constexpr uint32_t kBlkTGetId = 8;
inline constexpr uint32_t kBlkTWriteZeroes = 13;
// instar's own request, outside the virtio spec: where the file behind the
// device holds data and where it has holes (lseek's SEEK_DATA/SEEK_HOLE,
// file-system metadata, not image bytes). The device writes one
// BlkAllocation for the run that starts at the header's sector, so that a
// raw image's holes are skipped as qemu's file driver skips them.
inline constexpr uint32_t kBlkTInstarAllocation = 0x494e0001;

struct BlkAllocation {
    uint64_t sectors;  // length of the run, at least 1, never past the capacity
    uint32_t data;     // 1: data (or no information); 0: a hole
    uint32_t reserved;
};
static_assert(sizeof(BlkAllocation) == 16);

// The data of a WRITE_ZEROES request: one or more of these.
struct BlkWriteZeroes {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;  // kBlkWriteZeroesUnmap: the range may become a hole
};
static_assert(sizeof(BlkWriteZeroes) == 16);
inline constexpr uint32_t kBlkWriteZeroesUnmap = 1;

inline constexpr uint8_t kBlkSOk = 0;
inline constexpr uint8_t kBlkSIoErr = 1;
inline constexpr uint8_t kBlkSUnsupp = 2;

struct BlkRequestHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(BlkRequestHeader) == 16);

// Limits instar's device advertises and enforces.
inline constexpr uint32_t kBlkSegMax = 64;
inline constexpr uint32_t kBlkSizeMax = 4u << 20;  // per segment
inline constexpr uint32_t kBlkWriteZeroesMaxSectors = 0xffffffffu;
inline constexpr uint32_t kBlkWriteZeroesMaxSeg = 1;

}  // namespace instar::abi::virtio
