// `convert`: every source's guest-visible content, one after another, into
// the output device as a raw image. Each source is opened with its backing
// chain through the format table's readers; block status walks the chain
// (formats/block/chain_status.h), so space no layer allocates, and zero
// clusters, are skipped without being read. Data is read through the top
// reader (which falls through to the layers below) and written where it is
// not a run of zeroes at least -S long, as qemu-img's sparse detection
// does; with -S 0 every byte is written.
#include <new>

#include "abi/ops/convert.h"
#include "abi/virtio.h"
#include "formats/block/chain_status.h"
#include "formats/block/decode_scratch.h"
#include "formats/common/bits.h"
#include "formats/format_driver.h"
#include "guest/block_io.h"
#include "guest/heap.h"
#include "guest/libc.h"
#include "guest/op.h"
#include "guest/virtio_blk.h"

namespace instar::guest {
namespace {
namespace v = abi::virtio;
using formats::BlockKind;
using formats::BlockReader;

// One read through the chain and its writes move at most this much: qemu-img
// convert's buffer (IO_BUF_SIZE), so progress advances in the same steps.
constexpr uint32_t kChunkBytes = 2u << 20;

abi::ConvertConfig g_config;  // large: kept off the stack
const abi::BootConfig* g_boot = nullptr;

struct Output {
    VirtioBlk dev;
    uint64_t written = 0;
    // Progress counts what qemu-img counts: the bytes it copies (data, and
    // with -S 0 zeroes too), not the holes it skips.
    uint64_t counted_done = 0;
    uint64_t counted_total = 0;
};

bool counted(BlockKind kind) { return kind == BlockKind::data || g_config.min_sparse_sectors == 0; }

void write_out(Output& out, uint32_t type, uint64_t offset, void* buf, uint64_t len) {
    while (len) {
        uint64_t n = len < out.dev.max_request_bytes() ? len : out.dev.max_request_bytes() / v::kSectorSize * v::kSectorSize;
        if (!out.dev.transfer(type, offset / v::kSectorSize, buf, uint32_t(n))) fail(abi::GuestError::write_failed);
        if (type == v::kBlkTOut) out.written += n;
        offset += n;
        buf = static_cast<uint8_t*>(buf) + n;
        len -= n;
    }
}

// Zeroes over [offset, offset+len) of a target that may hold old bytes (or
// must be fully allocated, -S 0): the device makes them real.
void zero_out(Output& out, uint64_t offset, uint64_t len, bool may_unmap) {
    while (len) {
        uint64_t sectors = len / v::kSectorSize;
        if (sectors > v::kBlkWriteZeroesMaxSectors) sectors = v::kBlkWriteZeroesMaxSectors & ~uint64_t(7);
        v::BlkWriteZeroes wz{offset / v::kSectorSize, uint32_t(sectors), may_unmap ? v::kBlkWriteZeroesUnmap : 0u};
        if (!out.dev.transfer(v::kBlkTWriteZeroes, 0, &wz, sizeof wz)) fail(abi::GuestError::write_failed);
        offset += sectors * v::kSectorSize;
        len -= sectors * v::kSectorSize;
    }
}

bool sector_is_zero(const uint8_t* p) {
    const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
    for (size_t i = 0; i < v::kSectorSize / 8; ++i)
        if (w[i]) return false;
    return true;
}

// What to do with a stretch the sources give no data for, or data that is
// zeroes: nothing on a new target (it reads as zeroes), zeroes written
// where the target may hold old bytes or -S 0 asks for every byte.
void put_zeroes(Output& out, uint64_t offset, uint64_t len) {
    const uint32_t flags = g_config.flags;
    if (g_config.min_sparse_sectors == 0) {
        zero_out(out, offset, len, false);
    } else if ((flags & abi::kConvertExistingTarget) && !(flags & abi::kConvertTargetIsZero)) {
        zero_out(out, offset, len, true);
    }
}

// Writes `len` bytes of data read for `offset`: runs of zero sectors at
// least -S long are left out (qemu-img's is_allocated_sectors_min), the
// rest written.
void put_data(Output& out, uint64_t offset, uint8_t* buf, uint64_t len) {
    const uint64_t min = g_config.min_sparse_sectors;
    if (min == 0) {
        write_out(out, v::kBlkTOut, offset, buf, len);
        return;
    }
    const uint64_t sectors = len / v::kSectorSize;
    uint64_t i = 0, data_start = 0;
    while (i < sectors) {
        if (!sector_is_zero(buf + i * v::kSectorSize)) {
            ++i;
            continue;
        }
        uint64_t z = i;
        while (z < sectors && sector_is_zero(buf + z * v::kSectorSize)) ++z;
        // A zero run shorter than -S stays part of the data around it.
        if (z - i >= min || (z - i >= sectors && sectors < min)) {
            if (i > data_start)
                write_out(out, v::kBlkTOut, offset + data_start * v::kSectorSize, buf + data_start * v::kSectorSize,
                          (i - data_start) * v::kSectorSize);
            put_zeroes(out, offset + i * v::kSectorSize, (z - i) * v::kSectorSize);
            data_start = z;
        }
        i = z;
    }
    if (sectors > data_start)
        write_out(out, v::kBlkTOut, offset + data_start * v::kSectorSize, buf + data_start * v::kSectorSize,
                  (sectors - data_start) * v::kSectorSize);
}

// After each chunk qemu-img copies; the host prints by qemu's rule.
void progress(Output& out, uint64_t advanced) {
    out.counted_done += advanced;
    send_progress(out.counted_done, out.counted_total);
}

// How far a run of status `st` at `offset` reaches: a raw file's data ends
// where the file does, inside its last sector, and the output takes whole
// sectors (what pads the sector reads as zeroes).
uint64_t run_length(const formats::ChainStatus& st, uint64_t offset, uint64_t size) {
    if (st.kind != BlockKind::data) return st.bytes;
    uint64_t len = formats::round_up(offset + st.bytes, v::kSectorSize) - offset;
    return len < size - offset ? len : size - offset;
}

// What progress will count, from block status alone (qemu-img's first pass).
uint64_t counted_bytes(BlockReader** layers, uint32_t count) {
    const uint64_t size = layers[0]->virtual_size();
    uint64_t total = 0;
    for (uint64_t offset = 0; offset < size;) {
        formats::ChainStatus st{};
        formats::Status s = formats::chain_block_status(layers, count, offset, size - offset, st);
        if (s != formats::kOk) fail(s);
        const uint64_t len = run_length(st, offset, size);
        if (counted(st.kind)) total += len;
        offset += len;
    }
    return total;
}

// Where every reader of the run decodes compressed clusters
// (formats/block/decode_scratch.h): made only when some layer is qcow2, for
// the largest clusters, so that each image costs only its tables.
formats::DecodeScratch* make_decode_scratch(const abi::ConvertConfig& c) {
    bool qcow2 = false;
    for (uint32_t i = 0; i < c.layer_count; ++i) qcow2 |= c.layers[i].format == uint32_t(abi::Format::qcow2);
    if (!qcow2) return nullptr;
    auto* scratch = static_cast<formats::DecodeScratch*>(heap().alloc(sizeof(formats::DecodeScratch), 16));
    if (!scratch) fail(abi::GuestError::out_of_memory);
    ::new (scratch) formats::DecodeScratch();
    const formats::Status st = scratch->init(heap(), formats::kMaxDecodeUnitBytes);
    if (st != formats::kOk) fail(st);
    return scratch;
}

// Opens source `s`'s chain, bottom layer first, each over its own device.
BlockReader** open_chain(const abi::ConvertSource& s, uint8_t* bounce, formats::DecodeScratch* scratch) {
    auto** layers = heap().alloc_array<BlockReader*>(s.layer_count);
    if (!layers) fail(abi::GuestError::out_of_memory);
    BlockReader* below = nullptr;
    for (uint32_t k = s.layer_count; k-- > 0;) {
        const abi::ConvertLayer& l = g_config.layers[s.first_layer + k];
        const formats::FormatDriver* driver = formats::format_driver(abi::Format(l.format));
        if (!driver) fail(abi::GuestError::bad_config, "layer format");
        if (!driver->open_reader) fail(abi::GuestError::format_unsupported, "no reader for the format yet");
        auto* dev = static_cast<VirtioBlk*>(heap().alloc(sizeof(VirtioBlk), 16));
        if (!dev) fail(abi::GuestError::out_of_memory);
        ::new (dev) VirtioBlk();
        if (!dev->init(l.device)) fail(abi::GuestError::device_missing);
        auto* src = static_cast<DeviceSource*>(heap().alloc(sizeof(DeviceSource), 16));
        if (!src) fail(abi::GuestError::out_of_memory);
        ::new (src) DeviceSource(*dev, g_boot->devices[l.device].size_bytes, bounce);
        formats::ReaderOpenParams p{*src, heap(), below, nullptr, scratch};
        BlockReader* reader = nullptr;
        formats::Status st = driver->open_reader(p, reader);
        if (st != formats::kOk) fail(st);
        // The host sized the output from what `info` said: a file that
        // says otherwise now has changed between the two runs.
        if (reader->virtual_size() != l.virtual_size) fail(abi::GuestError::image_invalid, "image changed while converting");
        layers[k] = reader;
        below = reader;
    }
    return layers;
}

void convert_source(Output& out, BlockReader** layers, uint32_t count, uint64_t base, uint8_t* buf) {
    BlockReader* top = layers[0];
    const uint64_t size = top->virtual_size();
    uint64_t offset = 0;
    while (offset < size) {
        formats::ChainStatus st{};
        uint64_t want = size - offset < kChunkBytes ? size - offset : kChunkBytes;
        formats::Status s = formats::chain_block_status(layers, count, offset, want, st);
        if (s != formats::kOk) fail(s);
        const uint64_t len = run_length(st, offset, size);
        if (st.kind == BlockKind::data) {
            formats::Status r = top->read(offset, buf, len);
            if (r != formats::kOk) fail(r);
            put_data(out, base + offset, buf, len);
        } else {
            put_zeroes(out, base + offset, len);
        }
        offset += len;
        if (counted(st.kind)) progress(out, len);
    }
}

void convert_main(const abi::BootConfig& config) {
    if (config.op_config_size != sizeof g_config || !config.has_output) fail(abi::GuestError::bad_config);
    memcpy(&g_config, config.op_config, sizeof g_config);
    g_boot = &config;
    const abi::ConvertConfig& c = g_config;
    if (c.output_format != uint32_t(abi::Format::raw) || c.source_count == 0 ||
        c.source_count > abi::kConvertMaxSources || c.layer_count > abi::kConvertMaxLayers ||
        c.layer_count > config.input_count || c.min_sparse_sectors > (16u << 20) / v::kSectorSize ||
        (c.flags & ~(abi::kConvertExistingTarget | abi::kConvertTargetIsZero)))
        fail(abi::GuestError::bad_config);
    uint64_t total = 0;
    for (uint32_t i = 0; i < c.source_count; ++i) {
        const abi::ConvertSource& s = c.sources[i];
        if (s.layer_count == 0 || s.layer_count > abi::kConvertMaxLayersPerSource || s.first_layer > c.layer_count ||
            s.layer_count > c.layer_count - s.first_layer)
            fail(abi::GuestError::bad_config);
        const uint64_t size = c.layers[s.first_layer].virtual_size;
        if (size % v::kSectorSize || size > ~total) fail(abi::GuestError::bad_config);
        total += size;
    }
    for (uint32_t i = 0; i < c.layer_count; ++i)
        if (c.layers[i].device >= config.input_count) fail(abi::GuestError::bad_config);
    if (total != c.total_size) fail(abi::GuestError::bad_config);

    Output out;
    if (!out.dev.init(abi::kOutputDeviceIndex)) fail(abi::GuestError::device_missing);
    if (out.dev.read_only() || !out.dev.can_write_zeroes()) fail(abi::GuestError::device_missing);
    if (out.dev.capacity_bytes() < total) fail(abi::GuestError::output_too_small);

    auto* bounce = static_cast<uint8_t*>(heap().alloc(kBounceBytes, 4096, false));
    auto* buf = static_cast<uint8_t*>(heap().alloc(kChunkBytes, 4096, false));
    if (!bounce || !buf) fail(abi::GuestError::out_of_memory);

    formats::DecodeScratch* scratch = make_decode_scratch(c);
    BlockReader*** chains = heap().alloc_array<BlockReader**>(c.source_count);
    if (!chains) fail(abi::GuestError::out_of_memory);
    for (uint32_t i = 0; i < c.source_count; ++i) {
        chains[i] = open_chain(c.sources[i], bounce, scratch);
        out.counted_total += counted_bytes(chains[i], c.sources[i].layer_count);
    }
    uint64_t base = 0;
    for (uint32_t i = 0; i < c.source_count; ++i) {
        convert_source(out, chains[i], c.sources[i].layer_count, base, buf);
        base += c.layers[c.sources[i].first_layer].virtual_size;
    }
    send_result(abi::OpId::convert, abi::ConvertResult{total, out.written});
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(5, instar::abi::OpId::convert, instar::guest::convert_main);
