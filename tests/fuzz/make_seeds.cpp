// Writes the seed inputs that are not images qemu-img can make: emitter
// requests (typical qemu-img create option sets as CreateRequest bytes),
// well-formed host-side traffic (virtqueue requests, a full virtio-mmio
// driver handshake, one message of each hypercall) and `info` results the
// host accepts. scripts/fuzz-seeds runs it; nothing it writes is committed.
//
//   make_seeds OUT_DIR                writes OUT_DIR/<target>/<name>
//   make_seeds --info OUT_DIR SEED…   the answers our reader gives for
//                                     each info target seed, as
//                                     fuzz_info_validate seeds
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "abi/messages.h"
#include "abi/ops/create.h"
#include "abi/virtio.h"
#include "host_inputs.h"
#include "info_checks.h"

using namespace instar;
using namespace instar::fuzz;
namespace v = abi::virtio;

namespace {

std::string g_out;
int g_count = 0;

void put(const std::string& target, const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string dir = g_out + "/" + target;
    mkdir(dir.c_str(), 0755);
    const std::string path = dir + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
        std::perror(path.c_str());
        std::exit(1);
    }
    ++g_count;
}

template <typename T>
void append(std::vector<uint8_t>& out, const T& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}

// --- emitter requests -------------------------------------------------------

constexpr uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

abi::CreateRequest base(abi::Format fmt, uint64_t size, const char* name) {
    abi::CreateRequest r;
    std::memset(&r, 0, sizeof r);
    r.format = uint32_t(fmt);
    r.flags = abi::kCreateHasSize;
    r.size = size;
    r.preallocation = uint32_t(abi::Preallocation::off);
    r.qcow2_version = 3;
    r.cluster_size = 65536;
    r.refcount_bits = 16;
    r.compression_type = uint32_t(abi::Qcow2Compression::zlib);
    r.vmdk_subformat = uint32_t(abi::VmdkSubformat::monolithic_sparse);
    r.vmdk_adapter = uint32_t(abi::VmdkAdapter::ide);
    r.grain_size = 65536;
    r.vpc_subformat = uint32_t(abi::VpcSubformat::dynamic);
    r.vpc_block_size = 2 * MiB;
    r.vhdx_subformat = uint32_t(abi::VhdxSubformat::dynamic);
    r.vhdx_block_size = 0;
    r.vhdx_log_size = 1 * MiB;
    for (uint32_t i = 0; i < abi::kEntropyBytes; ++i) r.entropy[i] = uint8_t(0x5a ^ (i * 37));
    r.timestamp = 1700000000;
    r.backing_format = uint32_t(abi::Format::none);
    std::snprintf(r.image_name, sizeof r.image_name, "%s", name);
    return r;
}

void request(const std::string& fmt, const std::string& name, const abi::CreateRequest& r, uint8_t ctl = 0,
             uint64_t virtual_size = 0, uint32_t parent_cid = 0) {
    std::vector<uint8_t> b;
    append(b, r);
    b.push_back(ctl);
    append(b, virtual_size);
    append(b, parent_cid);
    put("fuzz_emit_" + fmt, name, b);
}

void with_backing(abi::CreateRequest& r, abi::Format bf, const char* path) {
    r.flags |= abi::kCreateHasBacking;
    r.backing_format = uint32_t(bf);
    std::snprintf(r.backing_file, sizeof r.backing_file, "%s", path);
}

void emitter_seeds() {
    const uint64_t sizes[] = {0, 512, 1 * MiB, 64 * MiB + 512, 1 * GiB, 100 * GiB, 2 * TiB};
    int i = 0;
    for (uint64_t s : sizes) {
        const std::string n = "size" + std::to_string(i++);
        request("qcow2", n, base(abi::Format::qcow2, s, "seed.qcow2"));
        request("vmdk", n, base(abi::Format::vmdk, s, "seed.vmdk"));
        request("vpc", n, base(abi::Format::vpc, s, "seed.vhd"));
        request("vhdx", n, base(abi::Format::vhdx, s, "seed.vhdx"));
    }

    // qcow2 options.
    for (uint32_t cs : {512u, 4096u, 65536u, 2u << 20}) {
        auto r = base(abi::Format::qcow2, 1 * GiB, "c.qcow2");
        r.cluster_size = cs;
        request("qcow2", "cluster" + std::to_string(cs), r);
    }
    for (uint32_t rb : {1u, 2u, 4u, 8u, 32u, 64u}) {
        auto r = base(abi::Format::qcow2, 10 * GiB, "r.qcow2");
        r.refcount_bits = rb;
        request("qcow2", "refbits" + std::to_string(rb), r);
    }
    for (uint32_t p = 0; p < 4; ++p) {
        auto r = base(abi::Format::qcow2, 4 * MiB, "p.qcow2");
        r.preallocation = p;
        request("qcow2", "prealloc" + std::to_string(p), r);
    }
    {
        auto r = base(abi::Format::qcow2, 1 * GiB, "v2.qcow2");
        r.qcow2_version = 2;
        request("qcow2", "compat010", r);
        r = base(abi::Format::qcow2, 1 * GiB, "l.qcow2");
        r.flags |= abi::kCreateLazyRefcounts | abi::kCreateExtendedL2;
        r.compression_type = uint32_t(abi::Qcow2Compression::zstd);
        request("qcow2", "lazy_extl2_zstd", r);
        r = base(abi::Format::qcow2, 0, "b.qcow2");
        r.flags &= ~abi::kCreateHasSize;
        with_backing(r, abi::Format::qcow2, "base.qcow2");
        request("qcow2", "backing", r, 2, 1 * GiB);
        r = base(abi::Format::qcow2, 1 * GiB, "b.qcow2");
        with_backing(r, abi::Format::raw, "/tmp/some dir/base.raw");
        request("qcow2", "backing_raw_sized", r);
    }

    // vmdk options.
    for (uint32_t a = 0; a < 4; ++a) {
        auto r = base(abi::Format::vmdk, 1 * GiB, "a.vmdk");
        r.vmdk_adapter = a;
        request("vmdk", "adapter" + std::to_string(a), r);
    }
    {
        auto r = base(abi::Format::vmdk, 1 * GiB, "s.vmdk");
        r.vmdk_subformat = uint32_t(abi::VmdkSubformat::stream_optimized);
        request("vmdk", "stream", r);
        r = base(abi::Format::vmdk, 1 * GiB, "c6.vmdk");
        r.flags |= abi::kCreateCompat6 | abi::kCreateZeroedGrain;
        request("vmdk", "compat6_zeroed", r);
        r = base(abi::Format::vmdk, 1 * GiB, "hw.vmdk");
        std::snprintf(r.vmdk_hwversion, sizeof r.vmdk_hwversion, "%s", "4");
        std::snprintf(r.vmdk_toolsversion, sizeof r.vmdk_toolsversion, "%s", "2147483647");
        request("vmdk", "versions", r);
        r = base(abi::Format::vmdk, 0, "child.vmdk");
        r.flags &= ~abi::kCreateHasSize;
        with_backing(r, abi::Format::vmdk, "parent.vmdk");
        request("vmdk", "backing", r, 2 | 4, 1 * GiB, 0x12345678);
        r = base(abi::Format::vmdk, 8 * MiB, "f.vmdk");
        r.preallocation = uint32_t(abi::Preallocation::full);
        request("vmdk", "prealloc_full", r);
    }

    // vpc options.
    for (uint32_t bs : {512u * 1024, 2u << 20, 256u << 20}) {
        auto r = base(abi::Format::vpc, 1 * GiB, "b.vhd");
        r.vpc_block_size = bs;
        request("vpc", "block" + std::to_string(bs), r);
    }
    {
        auto r = base(abi::Format::vpc, 10 * MiB, "f.vhd");
        r.vpc_subformat = uint32_t(abi::VpcSubformat::fixed);
        request("vpc", "fixed", r);
        r = base(abi::Format::vpc, 1 * GiB + 3 * 512, "fs.vhd");
        r.flags |= abi::kCreateForceSize;
        request("vpc", "force_size", r);
    }

    // vhdx options.
    for (uint32_t bs : {0u, 1u << 20, 32u << 20, 256u << 20}) {
        auto r = base(abi::Format::vhdx, 1 * GiB, "b.vhdx");
        r.vhdx_block_size = bs;
        request("vhdx", "block" + std::to_string(bs), r);
    }
    {
        auto r = base(abi::Format::vhdx, 64 * MiB, "f.vhdx");
        r.vhdx_subformat = uint32_t(abi::VhdxSubformat::fixed);
        request("vhdx", "fixed", r);
        r = base(abi::Format::vhdx, 1 * GiB, "z.vhdx");
        r.flags |= abi::kCreateBlockStateZero;
        r.vhdx_log_size = 8 * MiB;
        request("vhdx", "log8m_zero", r);
    }
}

// --- virtqueue and virtio-mmio traffic --------------------------------------

// Guest memory contents laid out relative to a base gpa: the rings and the
// buffers of `requests` block requests (read, write, flush, get-id...).
struct Layout {
    // Compact, so seeds stay small: a 16-entry queue's rings, then the
    // request headers and status bytes; data buffers (never part of a seed)
    // from kData on.
    static constexpr uint64_t kDesc = 0, kAvail = 0x100, kUsed = 0x200, kHeaders = 0x300, kEnd = 0x400, kData = 0x1000;
    std::vector<uint8_t> mem = std::vector<uint8_t>(kEnd);
    uint16_t next_desc = 0, posted = 0;
    uint64_t gpa_base;
    explicit Layout(uint64_t base) : gpa_base(base) {}

    void desc(uint16_t i, uint64_t off, uint32_t len, uint16_t flags, uint16_t next) {
        v::Desc d{gpa_base + off, len, flags, next};
        std::memcpy(mem.data() + kDesc + 16 * i, &d, 16);
    }
    // header, optional data, status.
    void post(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable) {
        const uint16_t head = next_desc;
        v::BlkRequestHeader h{type, 0, sector};
        std::memcpy(mem.data() + kHeaders + 32 * posted, &h, sizeof h);
        const uint64_t status = kHeaders + 32 * posted + 16;
        desc(next_desc, kHeaders + 32 * posted, 16, v::kDescFNext, uint16_t(next_desc + 1));
        ++next_desc;
        if (data_len) {
            desc(next_desc, kData + 4096 * posted, data_len, uint16_t(v::kDescFNext | (data_writable ? v::kDescFWrite : 0)),
                 uint16_t(next_desc + 1));
            ++next_desc;
        }
        desc(next_desc, status, 1, v::kDescFWrite, 0);
        ++next_desc;
        std::memcpy(mem.data() + kAvail + 4 + 2 * posted, &head, 2);
        ++posted;
        std::memcpy(mem.data() + kAvail + 2, &posted, 2);
    }
};

VirtqueueHeader vq_header(uint8_t flags, uint64_t base) {
    VirtqueueHeader h{};
    h.queue_size = 16;
    h.flags = flags;
    h.block_shift = 0;
    h.file_size = 64 * 1024;
    h.capacity = 2048;
    h.data_gpa = uint32_t(base);
    h.desc_gpa = base + Layout::kDesc;
    h.avail_gpa = base + Layout::kAvail;
    h.used_gpa = base + Layout::kUsed;
    return h;
}

void virtqueue_seed(const std::string& name, uint8_t flags, const Layout& l) {
    VirtqueueHeader h = vq_header(flags, l.gpa_base);
    std::vector<uint8_t> b;
    // Descriptor table and avail ring as the target places them, then the
    // request headers at data_gpa.
    h.data_gpa = uint32_t(l.gpa_base + Layout::kHeaders);
    append(b, h);
    b.insert(b.end(), l.mem.begin() + Layout::kDesc, l.mem.begin() + Layout::kDesc + 16 * h.queue_size);
    b.insert(b.end(), l.mem.begin() + Layout::kAvail, l.mem.begin() + Layout::kAvail + 6 + 2 * h.queue_size);
    b.insert(b.end(), l.mem.begin() + Layout::kHeaders, l.mem.end());
    put("fuzz_virtqueue", name, b);
}

void mmio_seed(const std::string& name, uint8_t flags, const Layout& l) {
    MmioHeader h{};
    h.vq = vq_header(flags, l.gpa_base);
    h.ops_offset = uint32_t(Layout::kEnd);
    std::vector<uint8_t> b;
    append(b, h);
    b.insert(b.end(), l.mem.begin(), l.mem.begin() + h.ops_offset);
    auto op = [&](uint8_t kind, uint16_t off, uint32_t value) { append(b, MmioOp{kind, 2, off, value}); };
    auto rd = [&](uint16_t off) { op(0, off, 0); };
    auto wr = [&](uint16_t off, uint32_t value) { op(1, off, value); };
    rd(v::kRegMagic);
    rd(v::kRegVersion);
    rd(v::kRegDeviceId);
    wr(v::kRegStatus, 0);
    wr(v::kRegStatus, v::kStatusAcknowledge);
    wr(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver);
    wr(v::kRegDeviceFeaturesSel, 0);
    rd(v::kRegDeviceFeatures);
    wr(v::kRegDeviceFeaturesSel, 1);
    rd(v::kRegDeviceFeatures);
    wr(v::kRegDriverFeaturesSel, 0);
    wr(v::kRegDriverFeatures, uint32_t(v::kBlkFBlkSize | v::kBlkFSegMax | v::kBlkFSizeMax | v::kBlkFFlush));
    wr(v::kRegDriverFeaturesSel, 1);
    wr(v::kRegDriverFeatures, 1);  // VERSION_1
    wr(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk);
    rd(v::kRegStatus);
    for (uint16_t c = 0; c < 24; c += 4) rd(uint16_t(v::kRegConfig + c));
    wr(v::kRegQueueSel, 0);
    rd(v::kRegQueueNumMax);
    wr(v::kRegQueueNum, h.vq.queue_size);
    wr(v::kRegQueueDescLow, uint32_t(l.gpa_base + Layout::kDesc));
    wr(v::kRegQueueDescHigh, 0);
    wr(v::kRegQueueDriverLow, uint32_t(l.gpa_base + Layout::kAvail));
    wr(v::kRegQueueDriverHigh, 0);
    wr(v::kRegQueueDeviceLow, uint32_t(l.gpa_base + Layout::kUsed));
    wr(v::kRegQueueDeviceHigh, 0);
    wr(v::kRegQueueReady, 1);
    wr(v::kRegStatus, v::kStatusAcknowledge | v::kStatusDriver | v::kStatusFeaturesOk | v::kStatusDriverOk);
    wr(v::kRegQueueNotify, 0);
    rd(v::kRegInterruptStatus);
    wr(v::kRegInterruptAck, 1);
    wr(v::kRegQueueNotify, 0);
    wr(v::kRegStatus, 0);  // reset
    put("fuzz_virtio_mmio", name, b);
}

void device_seeds() {
    const uint64_t base = kFuzzDmaStart;
    {
        Layout l(base);
        l.post(v::kBlkTIn, 0, 4096, true);
        l.post(v::kBlkTIn, 120, 4096, true);  // crosses the end of a 64 KiB file
        l.post(v::kBlkTGetId, 0, 20, true);
        l.post(v::kBlkTFlush, 0, 0, false);
        virtqueue_seed("input_reads", kVqReadOnly, l);
        mmio_seed("input_reads", kVqReadOnly, l);
        virtqueue_seed("input_refuses_write", kVqReadOnly, [&] {
            Layout w(base);
            w.post(v::kBlkTOut, 0, 4096, false);
            return w;
        }());
    }
    {
        Layout l(base);
        l.post(v::kBlkTOut, 0, 4096, false);
        l.post(v::kBlkTOut, 8, 4096, false);
        l.post(v::kBlkTIn, 0, 4096, true);
        l.post(v::kBlkTFlush, 0, 0, false);
        l.post(v::kBlkTOut, 2040, 4096, false);  // reaches the capacity
        virtqueue_seed("output_writes", kVqDetectZeroes, l);
        mmio_seed("output_writes", kVqDetectZeroes, l);
        virtqueue_seed("output_writes_dense", 0, l);
    }
    {
        Layout l(base);
        l.post(13 /* WRITE_ZEROES */, 0, 16, false);
        virtqueue_seed("output_write_zeroes", kVqDetectZeroes | kVqAllocateByWriting, l);
    }
}

// --- hypercall messages ------------------------------------------------------

void message(const std::string& name, uint16_t port, uint8_t placement, uint64_t gpa, const void* m, size_t n) {
    std::vector<uint8_t> b;
    append(b, port);
    b.push_back(placement);
    append(b, gpa);
    const auto* p = static_cast<const uint8_t*>(m);
    b.insert(b.end(), p, p + n);
    put("fuzz_guest_messages", name, b);
}

void message_seeds() {
    const uint16_t p0 = abi::kHypercallPortBase;
    abi::LogMessage log{};
    log.header = {abi::kMessageMagic, sizeof log};
    log.length = 5;
    std::memcpy(log.text, "hello", 5);
    message("log", p0 + 0, 0, 0x1000, &log, sizeof log);
    message("log_at_end", p0 + 0, 1, sizeof log - 1, &log, sizeof log);
    abi::ProgressMessage prog{{abi::kMessageMagic, sizeof prog}, 10, 100};
    message("progress", p0 + 1, 0, 0x2000, &prog, sizeof prog);
    abi::ErrorMessage err{};
    err.header = {abi::kMessageMagic, sizeof err};
    err.code = uint32_t(abi::GuestError::image_invalid);
    err.length = 3;
    std::memcpy(err.detail, "bad", 3);
    message("error", p0 + 2, 0, 0x3000, &err, sizeof err);
    std::vector<uint8_t> result(sizeof(abi::ResultMessage));
    abi::ResultMessage* r = reinterpret_cast<abi::ResultMessage*>(result.data());
    r->header = {abi::kMessageMagic, uint32_t(sizeof(abi::ResultMessage))};
    r->op = 1;
    r->payload_size = 32;
    message("result", p0 + 3, 0, 0x4000, result.data(), 16 + 32);
    abi::ExceptionMessage ex{{abi::kMessageMagic, sizeof ex}, 14, 2, 0x101234, 0};
    message("exception", p0 + 4, 3, 0x5000, &ex, sizeof ex);
    std::vector<uint8_t> records(offsetof(abi::RecordsMessage, payload) + 3 * sizeof(abi::InfoSnapshot));
    abi::RecordsMessage* rm = reinterpret_cast<abi::RecordsMessage*>(records.data());
    rm->header = {abi::kMessageMagic, uint32_t(sizeof(abi::RecordsMessage))};
    rm->op = uint32_t(abi::OpId::info);
    rm->kind = uint32_t(abi::InfoRecord::snapshot);
    rm->record_size = sizeof(abi::InfoSnapshot);
    rm->count = 3;
    message("records", p0 + 5, 0, 0x6000, records.data(), records.size());
}

// --- info results -------------------------------------------------------------

template <uint32_t N>
void set(abi::InfoString<N>& s, std::string_view v) {
    s.length = uint32_t(v.size());
    std::memcpy(s.bytes, v.data(), v.size());
}

void info_seed(const std::string& name, const abi::InfoResult& r, const std::string& filename, uint8_t ctl = 0,
               const std::vector<uint8_t>& records = {}) {
    ValidateCase c;
    c.ctl = ctl;
    c.filename = filename;
    c.actual_size = 200704;
    const auto* p = reinterpret_cast<const uint8_t*>(&r);
    c.result.assign(p, p + sizeof r);
    c.records = records;
    put("fuzz_info_validate", name, encode_validate_case(c));
}

template <typename T>
std::vector<uint8_t> batch(abi::InfoRecord kind, const std::vector<T>& records) {
    std::vector<uint8_t> out;
    append_batch(out, kind, sizeof(T), uint32_t(records.size()), records.data());
    return out;
}

// Strings the renderers must escape: terminal escapes, fake lines, quotes
// and backslashes, UTF-8 (valid, overlong, cut short), bytes above 0x7f.
const std::string_view kHostile[] = {
    "plain.qcow2",
    "\x1b[31mred\x1b[0m\r\nimage: fake.img",
    "a\"b\\c\td\x7f",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "\xc0\x80\xc3\xed\xa0\x80\xf4\x90\x80\x80\xfe\xff",
    "nbd:host:10809",
    "/abs/dir/base.img",
    "../up/one",
};

// The same, as an extent line can hold them (no CR, LF or '"').
std::string extent_name(size_t i) {
    std::string n(kHostile[i % std::size(kHostile)]);
    for (char& c : n)
        if (c == '\r' || c == '\n' || c == '"') c = '_';
    return n;
}

abi::InfoResult info_base(abi::Format f, uint64_t size) {
    abi::InfoResult r{};
    r.format = uint32_t(f);
    r.virtual_size = size;
    return r;
}

// Answers the host accepts, with every string hostile; the answers our
// reader gives for qemu-made images come from --info.
void info_result_seeds() {
    abi::InfoResult raw = info_base(abi::Format::raw, 1 * MiB);
    info_seed("raw", raw, "disk.img");
    raw.flags = abi::kInfoHasPartitionTable;
    info_seed("raw-mbr", raw, "/dev/sdz", kValidateJsonChain);
    raw.flags = abi::kInfoFormatUnknownAsRaw;
    raw.virtual_size = 0;
    info_seed("raw-unknown-empty", raw, "");

    abi::InfoResult q = info_base(abi::Format::qcow2, 64 * GiB);
    q.flags = abi::kInfoHasClusterSize | abi::kInfoHasBacking | abi::kInfoHasBackingFormat | abi::kInfoDirty;
    q.cluster_size = 65536;
    q.qcow2.version = 3;
    q.qcow2.refcount_bits = 16;
    q.qcow2.compression_type = uint32_t(abi::Qcow2Compression::zstd);
    q.qcow2.flags = abi::kQcow2LazyRefcounts | abi::kQcow2ExtendedL2 | abi::kQcow2HasDataFile | abi::kQcow2DataFileRaw;
    set(q.qcow2.data_file, kHostile[2]);
    set(q.backing_format, "qcow2");
    for (size_t i = 0; i < std::size(kHostile); ++i) {
        set(q.backing_file, kHostile[i]);
        info_seed("qcow2-backing-" + std::to_string(i), q, std::string(kHostile[(i + 1) % std::size(kHostile)]),
                  i % 3 == 0 ? kValidateTwoImages : i % 3 == 1 ? kValidateJsonChain : 0);
    }
    std::vector<abi::InfoSnapshot> snapshots(70);
    q.snapshot_count = uint32_t(snapshots.size());
    for (uint32_t i = 0; i < snapshots.size(); ++i) {
        abi::InfoSnapshot& sn = snapshots[i];
        set(sn.id, std::to_string(i + 1));
        set(sn.name, kHostile[i % std::size(kHostile)]);
        sn.vm_state_size = uint64_t(i) << (i % 40);
        sn.date_sec = 1700000000u + i * 86401u;
        sn.date_nsec = i * 1000;
        sn.vm_clock_nsec = uint64_t(i) * 3723004000000ull;
        sn.has_icount = i % 2;
        sn.icount = sn.has_icount ? uint64_t(i) << 50 : UINT64_MAX;
    }
    const auto* sp = reinterpret_cast<const uint8_t*>(snapshots.data());
    const std::vector<uint8_t> plain(sp, sp + snapshots.size() * sizeof(abi::InfoSnapshot));
    info_seed("qcow2-70-snapshots", q, "sn.qcow2", 0, plain);
    info_seed("qcow2-70-snapshots-chain", q, "sub/sn.qcow2", kValidateTwoImages, plain);
    // The same snapshots in batches of 16, with bitmaps, and the result as
    // a length and bytes.
    std::vector<abi::InfoBitmap> bitmaps(9);
    for (uint32_t i = 0; i < bitmaps.size(); ++i) {
        bitmaps[i].flags = i % 4;
        bitmaps[i].granularity = 512u << (i * 2);
        set(bitmaps[i].name, kHostile[i % std::size(kHostile)]);
    }
    q.qcow2.flags |= abi::kQcow2HasBitmaps;
    q.qcow2.bitmap_count = uint32_t(bitmaps.size());
    std::vector<uint8_t> batches;
    for (size_t i = 0; i < snapshots.size(); i += 16) {
        const uint32_t n = uint32_t(std::min<size_t>(16, snapshots.size() - i));
        append_batch(batches, abi::InfoRecord::snapshot, sizeof(abi::InfoSnapshot), n, &snapshots[i]);
    }
    const std::vector<uint8_t> bm = batch(abi::InfoRecord::bitmap, bitmaps);
    batches.insert(batches.end(), bm.begin(), bm.end());
    ValidateCase c;
    c.ctl = kValidateBatches | kValidateRawResult | kValidateJsonChain;
    c.filename = "batches.qcow2";
    const auto* qp = reinterpret_cast<const uint8_t*>(&q);
    c.result.assign(qp, qp + sizeof q);
    c.records = batches;
    put("fuzz_info_validate", "qcow2-snapshots-bitmaps-batches", encode_validate_case(c));

    abi::InfoResult v2 = info_base(abi::Format::qcow2, 4 * MiB);
    v2.flags = abi::kInfoHasClusterSize | abi::kInfoEncrypted;
    v2.cluster_size = 512;
    v2.qcow2.version = 2;
    v2.qcow2.refcount_bits = 16;
    v2.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes);
    v2.snapshot_count = 1;
    std::vector<abi::InfoSnapshot> one(1);
    set(one[0].id, "1");
    set(one[0].name, "s");
    one[0].icount = UINT64_MAX;
    info_seed("qcow2-v2-aes", v2, "v2.qcow2", kValidateBatches, batch(abi::InfoRecord::snapshot, one));

    // A vmdk descriptor of flat extents with hostile names: first the
    // request for its files, then the answer after they were attached.
    constexpr uint32_t kExtents = abi::kInfoMaxVmdkExtents;
    abi::InfoResult request = info_base(abi::Format::vmdk, 0);
    request.flags = abi::kInfoNeedsExtentFiles;
    request.vmdk.extent_count = kExtents;
    std::vector<abi::InfoVmdkExtentFile> files(kExtents);
    for (uint32_t i = 0; i < kExtents; ++i) set(files[i].name, extent_name(i));
    info_seed("vmdk-extent-files", request, "x.vmdk", kValidateBatches, batch(abi::InfoRecord::vmdk_extent_file, files));
    request.vmdk.extent_count = kExtents + 1;  // too many: refused with no names
    info_seed("vmdk-extent-files-too-many", request, "x.vmdk", kValidateBatches);

    abi::InfoResult v = info_base(abi::Format::vmdk, uint64_t(kExtents) * GiB);
    v.flags = abi::kInfoHasBacking | abi::kInfoHasBackingFormat;
    set(v.backing_file, "parent.vmdk");
    set(v.backing_format, "vmdk");
    v.vmdk.cid = 0xfffffffe;
    v.vmdk.parent_cid = 0x12345678;
    set(v.vmdk.create_type, "twoGbMaxExtentFlat");
    v.vmdk.extent_count = kExtents;
    std::vector<abi::InfoVmdkExtent> extents(kExtents);
    for (uint32_t i = 0; i < kExtents; ++i) {
        extents[i].virtual_size = GiB;
        set(extents[i].format, i % 2 ? "VMFS" : "FLAT");
        set(extents[i].filename, extent_name(i));
    }
    const std::vector<uint8_t> ex = batch(abi::InfoRecord::vmdk_extent, extents);
    info_seed("vmdk-flat-extents", v, "dir/x.vmdk", kValidateBatches | kValidateAfterExtentFiles, ex);
    info_seed("vmdk-flat-extents-chain", v, "json:{}", kValidateBatches | kValidateTwoImages, ex);
    info_seed("vmdk-flat-asked-vmdk", v, "x.vmdk", uint8_t(kValidateBatches | uint32_t(abi::Format::vmdk) << 4),
              ex);

    abi::InfoResult p = info_base(abi::Format::vpc, 4 * MiB);
    info_seed("vpc-fixed", p, "f.vhd");
    p.flags = abi::kInfoHasClusterSize;
    p.cluster_size = 2 * MiB;
    info_seed("vpc-dynamic", p, "d.vhd", kValidateJsonChain);
    abi::InfoResult x = info_base(abi::Format::vhdx, 64 * TiB);
    x.flags = abi::kInfoHasClusterSize;
    x.cluster_size = 256 * MiB;
    info_seed("vhdx", x, "x.vhdx");
}

// The guest's answers for each seed of an info target (an image, with
// the files it names when it is a vmdk descriptor), as the host receives
// them: the request for extent files, then the final answer.
int info_from_seeds(int count, char** paths) {
    static abi::InfoResult r;
    int made = 0;
    for (int i = 0; i < count; ++i) {
        std::FILE* f = std::fopen(paths[i], "rb");
        if (!f) {
            std::perror(paths[i]);
            return 1;
        }
        std::vector<uint8_t> input;
        for (int ch; (ch = std::fgetc(f)) != EOF;) input.push_back(uint8_t(ch));
        std::fclose(f);
        FuzzFiles files(input.data(), input.size());
        // "…/fuzz_info_qcow2/create-0" -> "qcow2-create-0"
        std::string name = paths[i];
        const size_t slash = name.rfind('/');
        const size_t dir = slash == std::string::npos || slash == 0 ? std::string::npos : name.rfind('/', slash - 1);
        name = name.substr(dir == std::string::npos ? 0 : dir + 1);
        if (name.rfind("fuzz_info_", 0) == 0) name = name.substr(10);
        std::replace(name.begin(), name.end(), '/', '-');
        GuestExtentFiles attached;
        for (bool second : {false, true}) {
            GuestRecordLog records;
            if (guest_read_info(files.image(), scratch().fresh(), abi::Format::none, true, attached, records,
                                r) != formats::kOk)
                break;  // qemu-made images we refuse (LUKS in a v2 image, ...)
            std::vector<uint8_t> out;
            uint32_t extent_files = 0;
            for (const GuestRecordLog::Batch& b : records.batches) {
                append_batch(out, abi::InfoRecord(b.kind), b.record_size, b.count, b.bytes.data());
                if (b.kind == uint32_t(abi::InfoRecord::vmdk_extent_file)) extent_files += b.count;
            }
            const uint8_t ctl = kValidateBatches | (second ? kValidateAfterExtentFiles : 0) |
                                (made % 3 == 2 ? kValidateTwoImages : 0);
            info_seed("image-" + name + (second ? "-extents" : ""), r, name, ctl, out);
            ++made;
            if (!(r.flags & abi::kInfoNeedsExtentFiles) || second) break;
            for (uint32_t k = 0; k < extent_files; ++k) attached.files.push_back(&files.named(k));
        }
    }
    std::printf("make_seeds: %d info answers\n", made);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::strcmp(argv[1], "--info") == 0) {
        g_out = argv[2];
        mkdir(g_out.c_str(), 0755);
        return info_from_seeds(argc - 3, argv + 3);
    }
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR | --info OUT_DIR SEED...\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    mkdir(g_out.c_str(), 0755);
    emitter_seeds();
    device_seeds();
    message_seeds();
    info_result_seeds();
    std::printf("make_seeds: %d seeds in %s\n", g_count, g_out.c_str());
    return 0;
}
