// `convert`: every source's guest-visible content, one after another, into
// the output device, as a raw image or as the image of another format
// that qemu-img would create and fill (the format's writer,
// formats/block/image_writer.h). Each source is opened
// with its backing chain through the format table's readers; block status
// walks the chain (formats/block/chain_status.h), so space no layer
// allocates, and zero clusters, are skipped without being read. The walk
// and the sparse detection are qemu-img convert's own
// (convert_iteration_sectors, is_allocated_sectors_min): which bytes
// count as written decides which qcow2 clusters get allocated.
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
// qemu-img asks for the block status of at most this much at once
// (BDRV_REQUEST_MAX_SECTORS).
constexpr uint64_t kStatusMaxBytes = 0x7fffffffull & ~uint64_t(v::kSectorSize - 1);
constexpr size_t kWriterScratchBytes = 32u << 20;

abi::ConvertConfig g_config;  // large: kept off the stack
const abi::BootConfig* g_boot = nullptr;

struct Output {
    VirtioBlk dev;
    // An image output is laid out by its format's writer; a raw one takes
    // the data at the guest offsets.
    formats::ImageWriter* image = nullptr;
    uint64_t written = 0;
    // Progress counts what qemu-img counts: the bytes it copies (data, and
    // with -S 0 zeroes too), not the holes it skips.
    uint64_t counted_done = 0;
    uint64_t counted_total = 0;
    // is_allocated_sectors' alignment, in sectors: -S rounded down to a
    // power of two (the output's request alignment is one sector).
    uint64_t alignment = 1;
    // -c: the output's cluster size in bytes (0 without); every write is one cluster.
    uint64_t compressed_cluster = 0;
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

void write_data(Output& out, uint64_t offset, uint8_t* buf, uint64_t len) {
    if (!out.image) {
        write_out(out, v::kBlkTOut, offset, buf, len);
        return;
    }
    const formats::Status st = out.image->write(offset, buf, len);
    if (st != formats::kOk) fail(st);
    out.written += len;
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
    const bool fill = g_config.min_sparse_sectors == 0 ||
                      ((flags & abi::kConvertExistingTarget) && !(flags & abi::kConvertTargetIsZero));
    if (!fill) return;
    // An image output is new (the host refuses -n for one), and with -S 0
    // its zeroes come as data (convert_all).
    if (out.image) fail(abi::GuestError::internal, "zeroes into an image output");
    zero_out(out, offset, len, g_config.min_sparse_sectors != 0);
}

// qemu-img's is_allocated_sectors: how many sectors from `buf` are all
// data or all zeroes; a change that falls inside an `alignment` block is
// moved to its edge (data grows to cover it, a zero run shrinks), so that
// writes stay aligned.
bool allocated_sectors(const uint8_t* buf, uint64_t n, uint64_t& pnum, uint64_t sector, uint64_t alignment) {
    if (n == 0) {
        pnum = 0;
        return false;
    }
    bool zero = sector_is_zero(buf);
    uint64_t i = 1;
    while (i < n && sector_is_zero(buf + i * v::kSectorSize) == zero) ++i;
    if (i == n) {
        pnum = i;
        return !zero;
    }
    const uint64_t tail = (sector + i) & (alignment - 1);
    if (tail) {
        if (zero && i <= tail) zero = false;
        if (!zero) {
            i += alignment - tail;
            if (i > n) i = n;
        } else {
            i -= tail;
        }
    }
    pnum = i;
    return !zero;
}

// is_allocated_sectors_min: a data run and every zero run shorter than
// `min` after it count as data; a leading zero run of any length is zeroes.
bool allocated_sectors_min(const uint8_t* buf, uint64_t n, uint64_t& pnum, uint64_t min, uint64_t sector,
                           uint64_t alignment) {
    if (n < min) min = n;
    if (!allocated_sectors(buf, n, pnum, sector, alignment)) return false;
    uint64_t used = pnum, checked = pnum;
    buf += pnum * v::kSectorSize;
    n -= pnum;
    sector += pnum;
    while (n > 0) {
        const bool data = allocated_sectors(buf, n, pnum, sector, alignment);
        buf += pnum * v::kSectorSize;
        n -= pnum;
        sector += pnum;
        checked += pnum;
        if (data) {
            used = checked;
        } else if (pnum >= min) {
            break;
        }
    }
    pnum = used;
    return true;
}

bool buffer_is_zero(const uint8_t* buf, uint64_t len) {
    for (uint64_t s = 0; s < len; s += v::kSectorSize)
        if (!sector_is_zero(buf + s)) return false;
    return true;
}

// convert_co_write for data read at `offset`: with -S, what
// is_allocated_sectors_min calls zeroes is left out; with -c a cluster
// is written whole, compressed, unless it is all zeroes.
void put_data(Output& out, uint64_t offset, uint8_t* buf, uint64_t len) {
    if (out.compressed_cluster) {
        if (g_config.min_sparse_sectors && buffer_is_zero(buf, len)) {
            put_zeroes(out, offset, len);
            return;
        }
        const formats::Status st = out.image->write_compressed(offset, buf, len);
        if (st != formats::kOk) fail(st);
        out.written += len;
        return;
    }
    const uint64_t min = g_config.min_sparse_sectors;
    if (min == 0) {
        write_data(out, offset, buf, len);
        return;
    }
    uint64_t sector = offset / v::kSectorSize;
    uint64_t left = len / v::kSectorSize;
    while (left) {
        uint64_t n = 0;
        const bool data = allocated_sectors_min(buf, left, n, min, sector, out.alignment);
        if (data) {
            write_data(out, sector * v::kSectorSize, buf, n * v::kSectorSize);
        } else {
            put_zeroes(out, sector * v::kSectorSize, n * v::kSectorSize);
        }
        sector += n;
        left -= n;
        buf += n * v::kSectorSize;
    }
}

// After each chunk qemu-img copies; the host prints by qemu's rule.
void progress(Output& out, uint64_t advanced) {
    out.counted_done += advanced;
    send_progress(out.counted_done, out.counted_total);
}

// One source's block status the way qemu-img convert's
// convert_iteration_sectors asks for it: one query for as much as qemu
// asks about, its end pulled back to the source's cluster size (so that
// reads stay aligned). Offsets are the source's own.
class SourceStatus {
public:
    SourceStatus(BlockReader** layers, uint32_t count) : layers_(layers), count_(count) {
        const uint64_t cluster = layers[0]->cluster_size() / v::kSectorSize;
        align_sectors_ = cluster ? cluster : 1;
    }

    uint64_t size() const { return layers_[0]->virtual_size(); }
    BlockReader& top() const { return *layers_[0]; }

    // What is left of the run holding `offset`: its length and kind (data
    // or zeroes).
    uint64_t run(uint64_t offset, BlockKind& kind) {
        if (status_end_ <= offset) {
            formats::ChainStatus st{};
            const uint64_t want = size() - offset < kStatusMaxBytes ? size() - offset : kStatusMaxBytes;
            formats::Status s = formats::chain_block_status(layers_, count_, offset, want, st);
            if (s != formats::kOk) fail(s);
            uint64_t n = formats::round_up(st.bytes, v::kSectorSize);
            if (n > size() - offset) n = size() - offset;
            const uint64_t tail = ((offset + n) / v::kSectorSize) % align_sectors_ * v::kSectorSize;
            if (n > tail) n -= tail;
            kind_ = st.kind == BlockKind::data ? BlockKind::data : BlockKind::zero;
            status_end_ = offset + n;
        }
        kind = kind_;
        return status_end_ - offset;
    }

    // From the start again, asking anew.
    void rewind() { status_end_ = 0; }

private:
    BlockReader** layers_;
    uint32_t count_;
    uint64_t align_sectors_;
    uint64_t status_end_ = 0;
    BlockKind kind_ = BlockKind::zero;
};

// Every source one after another, walked as qemu-img convert walks them:
// offsets are the output's (convert_select_part picks the source), data
// handed out in buffer-sized chunks, and with -c one output cluster at a
// time, which at a source's end runs on into the next one (qemu reads such
// a cluster from both: convert_co_read).
class ConvertWalk {
public:
    // `cluster_bytes`: with -c, the output's cluster, which every chunk
    // covers whole (the disk's last may be shorter); 0 without.
    ConvertWalk(BlockReader*** chains, const abi::ConvertConfig& c, uint64_t cluster_bytes)
        : count_(c.source_count), compressed_cluster_(cluster_bytes) {
        parts_ = heap().alloc_array<SourceStatus>(count_);
        bases_ = heap().alloc_array<uint64_t>(count_);
        if (!parts_ || !bases_) fail(abi::GuestError::out_of_memory);
        for (uint32_t i = 0; i < count_; ++i) {
            ::new (&parts_[i]) SourceStatus(chains[i], c.sources[i].layer_count);
            bases_[i] = size_;
            size_ += parts_[i].size();
        }
    }

    uint64_t size() const { return size_; }

    // Back to the first source, every status asked anew: the conversion
    // walks what the progress count walked, as qemu-img's two passes do.
    void rewind() {
        for (uint32_t i = 0; i < count_; ++i) parts_[i].rewind();
        cur_ = 0;
    }

    // The next chunk from `offset`: its length and kind.
    uint64_t next(uint64_t offset, BlockKind& kind) {
        const uint32_t i = part(offset);
        uint64_t n = parts_[i].run(offset - bases_[i], kind);
        if (compressed_cluster_) {
            // One cluster at a time (qemu-img's buffer is one cluster); a
            // shorter run is taken as a whole cluster of data.
            if (kind == BlockKind::data && n > compressed_cluster_) n = compressed_cluster_;
            if (n < compressed_cluster_) {
                n = compressed_cluster_ < size_ - offset ? compressed_cluster_ : size_ - offset;
                kind = BlockKind::data;
            } else {
                n -= n % compressed_cluster_;
                if (g_config.min_sparse_sectors == 0) n = compressed_cluster_;  // -S 0: zeroes a buffer at a time
            }
            return n;
        }
        // qemu-img moves data a buffer at a time, and with -S 0 zeroes too.
        if ((kind == BlockKind::data || g_config.min_sparse_sectors == 0) && n > kChunkBytes) n = kChunkBytes;
        return n;
    }

    // The sources' bytes [offset, offset + len), from as many as it spans.
    void read(uint64_t offset, uint8_t* buf, uint64_t len) {
        while (len) {
            const uint32_t i = part(offset);
            const uint64_t local = offset - bases_[i];
            const uint64_t n = len < parts_[i].size() - local ? len : parts_[i].size() - local;
            const formats::Status r = parts_[i].top().read(local, buf, size_t(n));
            if (r != formats::kOk) fail(r);
            offset += n;
            buf += n;
            len -= n;
        }
    }

private:
    // convert_select_part: the source holding `offset` (< size()); an
    // empty source holds nothing.
    uint32_t part(uint64_t offset) {
        while (cur_ + 1 < count_ && offset >= bases_[cur_] + parts_[cur_].size()) ++cur_;
        while (cur_ > 0 && offset < bases_[cur_]) --cur_;
        return cur_;
    }

    uint32_t count_;
    uint64_t compressed_cluster_;
    SourceStatus* parts_ = nullptr;
    uint64_t* bases_ = nullptr;
    uint64_t size_ = 0;
    uint32_t cur_ = 0;
};

// What progress will count, from block status alone (qemu-img's first pass).
uint64_t counted_bytes(ConvertWalk& walk) {
    uint64_t total = 0;
    for (uint64_t offset = 0; offset < walk.size();) {
        BlockKind kind;
        const uint64_t len = walk.next(offset, kind);
        if (counted(kind)) total += len;
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

static_assert(abi::kConvertActiveImage == formats::ReaderOpenParams::kActiveImage);

// Opens source `s`'s chain, bottom layer first, each over its own device;
// `snapshot`: the top layer's internal snapshot to read (-l), or the
// active image.
BlockReader** open_chain(const abi::ConvertSource& s, uint8_t* bounce, formats::DecodeScratch* scratch,
                         uint32_t snapshot) {
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
        if (k == 0) p.snapshot = snapshot;
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

void convert_all(Output& out, ConvertWalk& walk, uint8_t* buf) {
    for (uint64_t offset = 0; offset < walk.size();) {
        BlockKind kind;
        const uint64_t len = walk.next(offset, kind);
        if (kind == BlockKind::data) {
            walk.read(offset, buf, len);
            put_data(out, offset, buf, len);
        } else if (out.image && g_config.min_sparse_sectors == 0) {
            // -S 0: qemu-img writes the zeroes as data (compressed with -c),
            // so every cluster is allocated.
            memset(buf, 0, len);
            put_data(out, offset, buf, len);
        } else {
            put_zeroes(out, offset, len);
        }
        offset += len;
        if (counted(kind)) progress(out, len);
    }
}

// The image qemu-img would create for the output, made and then filled
// in the guest by its format's writer from the host's resolved request.
formats::ImageWriter* open_image_output(VirtioBlk& dev, uint64_t size, bool compress) {
    const abi::CreateRequest& req = g_config.target;
    const formats::FormatDriver* driver = formats::format_driver(abi::Format(g_config.output_format));
    if (!driver || !driver->open_writer || req.format != g_config.output_format ||
        !(req.flags & abi::kCreateHasSize) || req.size != size)
        fail(abi::GuestError::bad_config, "output request");
    auto* sink = static_cast<DeviceSink*>(heap().alloc(sizeof(DeviceSink), 16));
    auto* arena = static_cast<formats::Arena*>(heap().alloc(sizeof(formats::Arena), 16));
    void* scratch = heap().alloc(kWriterScratchBytes, 4096, false);
    if (!sink || !arena || !scratch) fail(abi::GuestError::out_of_memory);
    ::new (sink) DeviceSink(dev);
    ::new (arena) formats::Arena(scratch, kWriterScratchBytes, /*known_zero=*/true);
    if (!sink->ok()) fail(abi::GuestError::out_of_memory);
    formats::ImageWriter* writer = nullptr;
    const formats::Status st = driver->open_writer(formats::WriterOpenParams{req, size, *sink, *arena, compress}, writer);
    if (st != formats::kOk) fail(st);
    if (writer->virtual_size() < size) fail(abi::GuestError::internal, "output smaller than the sources");
    return writer;
}

uint64_t pow2_floor(uint64_t v) { return v ? uint64_t(1) << (63 - __builtin_clzll(v)) : 0; }

void convert_main(const abi::BootConfig& config) {
    if (config.op_config_size != sizeof g_config || !config.has_output) fail(abi::GuestError::bad_config);
    memcpy(&g_config, config.op_config, sizeof g_config);
    g_boot = &config;
    const abi::ConvertConfig& c = g_config;
    const bool image_out = c.output_format != uint32_t(abi::Format::raw);
    if (c.source_count == 0 ||
        c.source_count > abi::kConvertMaxSources || c.layer_count > abi::kConvertMaxLayers ||
        c.layer_count > config.input_count || c.min_sparse_sectors > (16u << 20) / v::kSectorSize ||
        (c.flags & ~(abi::kConvertExistingTarget | abi::kConvertTargetIsZero | abi::kConvertCompress)) ||
        ((c.flags & abi::kConvertCompress) && !image_out))
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
    if (c.reserved) fail(abi::GuestError::bad_config);

    if (image_out && (c.flags & abi::kConvertExistingTarget)) fail(abi::GuestError::bad_config, "-n into an image");

    Output out;
    if (!out.dev.init(abi::kOutputDeviceIndex)) fail(abi::GuestError::device_missing);
    if (out.dev.read_only() || !out.dev.can_write_zeroes()) fail(abi::GuestError::device_missing);
    if (!image_out && out.dev.capacity_bytes() < total) fail(abi::GuestError::output_too_small);
    if (c.min_sparse_sectors) out.alignment = pow2_floor(c.min_sparse_sectors);

    auto* bounce = static_cast<uint8_t*>(heap().alloc(kBounceBytes, 4096, false));
    auto* buf = static_cast<uint8_t*>(heap().alloc(kChunkBytes, 4096, false));
    if (!bounce || !buf) fail(abi::GuestError::out_of_memory);

    formats::DecodeScratch* scratch = make_decode_scratch(c);
    if (image_out) {
        const bool compress = c.flags & abi::kConvertCompress;
        out.image = open_image_output(out.dev, total, compress);
        if (compress) {
            out.compressed_cluster = out.image->cluster_size();
            if (out.compressed_cluster < v::kSectorSize || out.compressed_cluster % v::kSectorSize)
                fail(abi::GuestError::internal, "compressed writes without whole-sector clusters");
        }
    }
    BlockReader*** chains = heap().alloc_array<BlockReader**>(c.source_count);
    if (!chains) fail(abi::GuestError::out_of_memory);
    for (uint32_t i = 0; i < c.source_count; ++i)
        chains[i] = open_chain(c.sources[i], bounce, scratch, i == 0 ? c.snapshot : abi::kConvertActiveImage);
    ConvertWalk walk(chains, c, out.compressed_cluster);
    out.counted_total = counted_bytes(walk);
    walk.rewind();
    convert_all(out, walk, buf);
    uint64_t file_size = total;
    if (out.image) {
        const formats::Status st = out.image->finish();
        if (st != formats::kOk) fail(st);
        file_size = out.image->file_size();
    }
    send_result(abi::OpId::convert, abi::ConvertResult{total, out.written, file_size});
}

}  // namespace
}  // namespace instar::guest

INSTAR_GUEST_OP(5, instar::abi::OpId::convert, instar::guest::convert_main);
