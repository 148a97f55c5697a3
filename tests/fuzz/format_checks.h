// What the format fuzz targets check, shared with the unit test that
// replays tests/fuzz/regressions/: each check_* function runs one input
// through the real entry points and returns nullptr when every invariant
// held, or a sentence saying which did not. The fuzz targets turn a
// non-null answer into __builtin_trap(); the unit test into a failure.
//
// Formats whose code is not in the tree yet are left out with
// __has_include, so this builds with or without them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "abi/format.h"
#include "abi/ops/create.h"
#include "abi/ops/info.h"
#include "formats/common/arena.h"
#include "formats/common/emitter.h"
#include "formats/common/probe.h"
#include "formats/common/record_sink.h"
#include "formats/info.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vmdk/vmdk_create.h"
#include "formats/vmdk/vmdk_create_plan.h"
#include "formats/vmdk/vmdk_desc_parse.h"
#include "formats/vmdk/vmdk_info.h"
#include "formats/vmdk/vmdk_probe.h"
#include "fuzz_image.h"

#if __has_include("formats/qcow2/qcow2_probe.h")
#include "formats/qcow2/qcow2_probe.h"
#define INSTAR_FUZZ_QCOW2_PROBE 1
#endif
#if __has_include("formats/qcow2/qcow2_create.h")
#include "formats/qcow2/qcow2_create.h"
#define INSTAR_FUZZ_QCOW2_EMIT 1
#endif
#if __has_include("formats/vpc/vpc_probe.h")
#include "formats/vpc/vpc_probe.h"
#define INSTAR_FUZZ_VPC_PROBE 1
#endif
#if __has_include("formats/vpc/vpc_create.h")
#include "formats/vpc/vpc_create.h"
#define INSTAR_FUZZ_VPC_EMIT 1
#endif
#if __has_include("formats/vhdx/vhdx_probe.h")
#include "formats/vhdx/vhdx_probe.h"
#define INSTAR_FUZZ_VHDX_PROBE 1
#endif
#if __has_include("formats/vhdx/vhdx_create.h")
#include "formats/vhdx/vhdx_create.h"
#define INSTAR_FUZZ_VHDX_EMIT 1
#endif

namespace instar::fuzz {

using formats::Status;

using DetectFn = bool (*)(const uint8_t*, size_t);
using ReadBasicFn = Status (*)(formats::ImageSource&, formats::Arena&, formats::BasicImageInfo&);

struct FormatEntry {
    const char* name;
    abi::Format format;
    DetectFn detect;        // nullptr: probe not in the tree
    ReadBasicFn read_basic;
    formats::EmitFn emit;   // nullptr: emitter not in the tree
};

inline const std::vector<FormatEntry>& format_table() {
    static const std::vector<FormatEntry> table = {
#ifdef INSTAR_FUZZ_QCOW2_PROBE
        {"qcow2", abi::Format::qcow2, formats::qcow2_detect, formats::qcow2_read_basic,
#ifdef INSTAR_FUZZ_QCOW2_EMIT
         formats::qcow2_emit},
#else
         nullptr},
#endif
#endif
        {"vmdk", abi::Format::vmdk, formats::vmdk_detect, formats::vmdk_read_basic,
         formats::vmdk_emit},
#ifdef INSTAR_FUZZ_VPC_PROBE
        {"vpc", abi::Format::vpc, formats::vpc_detect, formats::vpc_read_basic,
#ifdef INSTAR_FUZZ_VPC_EMIT
         formats::vpc_emit},
#else
         nullptr},
#endif
#endif
#ifdef INSTAR_FUZZ_VHDX_PROBE
        {"vhdx", abi::Format::vhdx, formats::vhdx_detect, formats::vhdx_read_basic,
#ifdef INSTAR_FUZZ_VHDX_EMIT
         formats::vhdx_emit},
#else
         nullptr},
#endif
#endif
    };
    return table;
}

inline const FormatEntry* find_format(const char* name) {
    for (const FormatEntry& f : format_table())
        if (std::strcmp(f.name, name) == 0) return &f;
    return nullptr;
}

// Guest-sized scratch (the create op gives format code most of the 58 MiB
// heap). Allocated once; after each use the part handed out is refilled
// with a pattern, so code that reads scratch it did not initialise (alloc
// with zero=false) sees something other than zeroes and gives itself away
// through the determinism check below.
class Scratch {
public:
    static constexpr size_t kBytes = 48u << 20;
    Scratch() : mem_(new uint8_t[kBytes]), arena_(mem_, kBytes) { std::memset(mem_, 0xa5, kBytes); }
    ~Scratch() { delete[] mem_; }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    formats::Arena& fresh() {
        std::memset(mem_, 0xa5, arena_.used());
        arena_.reset();
        return arena_;
    }

private:
    uint8_t* mem_;
    formats::Arena arena_;
};

inline Scratch& scratch() {
    static Scratch s;
    return s;
}

inline bool valid_status(Status s) { return uint32_t(s) < abi::kGuestErrorCount; }

// The first bytes of the file as the guest hands them to FMT_detect.
inline std::vector<uint8_t> probe_head(formats::ImageSource& src) {
    const uint64_t n = src.size() < formats::kProbeHeadBytes ? src.size() : formats::kProbeHeadBytes;
    std::vector<uint8_t> head(n < 512 ? 512 : n);  // past the end reads as zero, as qemu's probe
    src.read(0, head.data(), head.size());
    return head;
}

// --- parsers --------------------------------------------------------------

// detect on the head, then read_basic whatever detect said (read_basic must
// refuse anything, not only what detect let through), twice: the answers
// must agree.
inline const char* check_probe(const FormatEntry& f, const uint8_t* data, size_t size) {
    FuzzImage src(data, size);
    const std::vector<uint8_t> head = probe_head(src);
    const bool detected = f.detect(head.data(), head.size());
    const bool detected_short = f.detect(head.data(), head.size() < 512 ? head.size() : 512);
    (void)detected_short;  // 512 bytes is what qemu looks at; only crashes matter here

    formats::BasicImageInfo a{}, b{};
    const Status sa = f.read_basic(src, scratch().fresh(), a);
    if (!valid_status(sa)) return "read_basic returned an unknown status code";
    const Status sb = f.read_basic(src, scratch().fresh(), b);
    scratch().fresh();
    if (sa != sb) return "read_basic gave two different answers for the same bytes";
    if (sa == formats::kOk) {
        if (a.virtual_size != b.virtual_size || a.has_cid != b.has_cid || (a.has_cid && a.cid != b.cid))
            return "read_basic reported two different results for the same bytes";
        if (a.has_cid && f.format != abi::Format::vmdk) return "read_basic set a CID for a format without one";
    }
    (void)detected;
    return nullptr;
}

// Every format's detect on the same head, and read_basic for each format
// that claims it (qemu's probe order decides between several).
inline const char* check_detect_all(const uint8_t* data, size_t size) {
    FuzzImage src(data, size);
    const std::vector<uint8_t> head = probe_head(src);
    for (const FormatEntry& f : format_table()) {
        for (size_t n : {size_t(0), size_t(1), size_t(511), size_t(512), head.size()}) {
            if (n > head.size()) continue;
            // An exact-size copy, so ASan sees a read past `n`.
            std::vector<uint8_t> part(head.begin(), head.begin() + long(n));
            f.detect(part.data(), part.size());
        }
        if (!f.detect(head.data(), head.size())) continue;
        formats::BasicImageInfo info{};
        const Status s = f.read_basic(src, scratch().fresh(), info);
        scratch().fresh();
        if (!valid_status(s)) return "read_basic returned an unknown status code";
    }
    return nullptr;
}

// The vmdk descriptor field readers on arbitrary text, NULs included: they
// are given text[0, len) and must not look past it.
inline const char* check_vmdk_descriptor(const uint8_t* data, size_t size) {
    // An exact-size heap copy, so any read past the end is an ASan report.
    std::vector<char> text(data, data + size);
    const char* t = text.data();
    size_t pos = 0;
    for (const char* needle : {"CID", "parentCID", "createType", "\"", "RW ", "#"}) {
        if (formats::vmdk::find_text(t, size, needle, pos) && pos >= size) return "find_text answered past the end";
    }
    uint32_t cid = 0;
    formats::vmdk::read_cid_field(t, size, "CID", cid);
    formats::vmdk::read_cid_field(t, size, "parentCID", cid);
    formats::vmdk::parent_hint_ok(t, size);
    const size_t n = formats::vmdk::descriptor_length(t, size);
    if (n > size) return "descriptor_length is longer than the buffer";
    for (size_t i = 0; i < n; ++i)
        if (t[i] == '\0') return "descriptor_length went past a NUL";
    if (n < size && t[n] != '\0') return "descriptor_length stopped before the end without a NUL";

    size_t start = 0, length = 0;
    if (formats::vmdk::find_create_type(t, size, start, length) &&
        (start > size || length > size - start || length > formats::vmdk::kCreateTypeLongest))
        return "find_create_type answered outside the text";
    // Extent lines: each within the text, as qemu reads them; at most one
    // per line.
    formats::vmdk::ExtentLineReader lines(t, size);
    size_t count = 0;
    for (;;) {
        formats::vmdk::ExtentLine line{};
        bool done = false;
        if (lines.next(line, done) != formats::kOk || done) break;
        if (++count > size) return "more extent lines than lines";
        if (line.sectors == 0 || line.sectors > uint64_t(INT64_MAX)) return "extent size out of range";
        if (line.name_length == 0 || line.name_length > formats::vmdk::kNameLongest || line.name_start > size ||
            line.name_length > size - line.name_start)
            return "extent name outside the text";
        for (size_t i = 0; i < line.name_length; ++i) {
            const char c = t[line.name_start + i];
            if (c == '\n' || c == '\r' || c == '"') return "extent name holds a byte qemu stops at";
        }
    }
    return nullptr;
}

// --- emitters -------------------------------------------------------------

// A fuzz input for an emitter: the raw bytes of a CreateRequest (zero-filled
// when short; strings not terminated unless the bytes terminate them), then
// a control byte and the rest of EmitInput:
//   ctl bit 0: keep the request's own `format` (else it is set to the
//              emitter's, so most inputs get past the first check)
//   ctl bit 1: virtual_size from the next 8 bytes (else request.size)
//   ctl bit 2: has_parent_cid, parent_cid from the 4 bytes after that
struct EmitCase {
    abi::CreateRequest request;
    formats::EmitInput input;
};
inline constexpr size_t kEmitTailBytes = 1 + 8 + 4;

inline EmitCase decode_emit_case(abi::Format format, const uint8_t* data, size_t size) {
    EmitCase c;
    std::memset(&c.request, 0, sizeof c.request);
    std::memcpy(&c.request, data, size < sizeof c.request ? size : sizeof c.request);
    uint8_t tail[kEmitTailBytes] = {};
    if (size > sizeof c.request) {
        const size_t n = size - sizeof c.request;
        std::memcpy(tail, data + sizeof c.request, n < sizeof tail ? n : sizeof tail);
    }
    if (!(tail[0] & 1)) c.request.format = uint32_t(format);
    c.input.request = &c.request;
    c.input.virtual_size = (tail[0] & 2) ? get_le(tail + 1, 8) : c.request.size;
    c.input.has_parent_cid = (tail[0] & 4) != 0;
    c.input.parent_cid = uint32_t(get_le(tail + 9, 4));
    return c;
}

// How far above the asked size the recorded virtual size may lie: the
// emitters round as qemu does (sectors; vhdx to whole MiB; vpc to a CHS
// geometry, which only grows it, unless force_size).
inline uint64_t size_slack(const abi::CreateRequest& r) {
    switch (abi::Format(r.format)) {
    case abi::Format::vhdx: return 1u << 20;
    case abi::Format::vpc: return (r.flags & abi::kCreateForceSize) ? 512 : UINT64_MAX;
    default: return 512;
    }
}

// Images qemu-img itself creates but then cannot open, which our probes
// refuse as qemu does: a vmdk of virtual size 0 ("Unsupported image type"),
// a fixed vpc of virtual size 0 (only a footer: "Error reading dynamic VHD
// header").
inline bool probe_may_refuse(const FormatEntry& f, const abi::CreateRequest& r, const formats::EmitOutput& out,
                             Status s) {
    if (out.virtual_size != 0) return false;
    if (f.format == abi::Format::vmdk) return s == Status::unsupported_feature;
    if (f.format == abi::Format::vpc && r.vpc_subformat == uint32_t(abi::VpcSubformat::fixed))
        return s == Status::image_invalid;
    return false;
}

// The records `info` sends for an image, kept: an emitted image's are few.
class KeptRecords final : public formats::RecordSink {
public:
    void put(uint32_t kind, const void* record, size_t size) override {
        if (kind == uint32_t(abi::InfoRecord::vmdk_extent) && size == sizeof(abi::InfoVmdkExtent)) {
            extents.emplace_back();
            std::memcpy(&extents.back(), record, size);
        } else {
            ++others;
        }
    }
    std::vector<abi::InfoVmdkExtent> extents;
    size_t others = 0;
};

template <uint32_t N>
bool info_string_is(const abi::InfoString<N>& s, const char* want) {
    const size_t n = std::strlen(want);
    return s.length == n && std::memcmp(s.bytes, want, n) == 0;
}

// What `info` reads back from an image the emitter wrote (qemu-img info
// on a file qemu-img create made): the format, the virtual size and every
// option that info shows, as asked. An option the emitter accepted but did
// not write is caught here.
inline const char* check_emitted_info(const FormatEntry& f, const abi::CreateRequest& r, const formats::EmitInput& in,
                                      const formats::EmitOutput& out, formats::ImageSource& image) {
    static abi::InfoResult info;  // as in the guest: off the stack
    formats::NoVmdkExtentFiles no_files;
    KeptRecords records;
    const Status s = formats::read_image_info(image, scratch().fresh(), f.format, false, no_files, records, info);
    scratch().fresh();
    if (s != formats::kOk) return "our own info reader refuses the image the emitter wrote";
    if (info.format != uint32_t(f.format)) return "info reads the image as another format";
    if (info.virtual_size != out.virtual_size) return "info's virtual size differs from the emitter's";
    if (info.flags & (abi::kInfoEncrypted | abi::kInfoDirty | abi::kInfoNeedsExtentFiles))
        return "info finds the new image encrypted, dirty or split into extent files";
    if (info.snapshot_count != 0 || records.others != 0) return "info finds snapshots or bitmaps in a new image";

    const bool backing = (r.flags & abi::kCreateHasBacking) != 0;
    if (backing != ((info.flags & abi::kInfoHasBacking) != 0)) return "info's backing file is not the one asked for";
    if (backing) {
        // vmdk writes the name between quotes, as qemu does, and reads it (as
        // qemu does) up to the next quote: a name holding one comes back cut.
        std::string want(r.backing_file, strnlen(r.backing_file, sizeof r.backing_file));
        if (f.format == abi::Format::vmdk) want = want.substr(0, want.find('"'));
        if (!info_string_is(info.backing_file, want.c_str()))
            return "info's backing file name is not the one asked for";
    }
    const bool has_cluster_size = (info.flags & abi::kInfoHasClusterSize) != 0;

    switch (f.format) {
    case abi::Format::qcow2: {
        const abi::InfoQcow2& q = info.qcow2;
        const uint32_t asked_flags = ((r.flags & abi::kCreateLazyRefcounts) ? abi::kQcow2LazyRefcounts : 0u) |
                                     ((r.flags & abi::kCreateExtendedL2) ? abi::kQcow2ExtendedL2 : 0u);
        if (!has_cluster_size || info.cluster_size != r.cluster_size) return "qcow2 cluster size read back differs";
        if (q.version != r.qcow2_version) return "qcow2 version read back differs";
        if (q.refcount_bits != r.refcount_bits) return "qcow2 refcount bits read back differ";
        if (q.compression_type != r.compression_type) return "qcow2 compression type read back differs";
        if (q.flags != asked_flags) return "qcow2 feature flags read back differ from the options asked for";
        if (q.data_file.length != 0 || q.encrypt_format != uint32_t(abi::Qcow2EncryptFormat::none))
            return "qcow2 data file or encryption in a new image";
        const bool has_format = r.backing_format != uint32_t(abi::Format::none);
        if (has_format != ((info.flags & abi::kInfoHasBackingFormat) != 0))
            return "qcow2 backing format presence read back differs";
        if (has_format && !info_string_is(info.backing_format, abi::format_name(abi::Format(r.backing_format))))
            return "qcow2 backing format read back differs";
        break;
    }
    case abi::Format::vmdk: {
        const abi::InfoVmdk& v = info.vmdk;
        const bool stream = r.vmdk_subformat == uint32_t(abi::VmdkSubformat::stream_optimized);
        if (!info_string_is(v.create_type, stream ? "streamOptimized" : "monolithicSparse"))
            return "vmdk create type read back differs";
        if (!has_cluster_size || info.cluster_size != r.grain_size) return "vmdk grain size read back differs";
        if (v.cid != uint32_t(get_le(r.entropy, 4))) return "vmdk CID read back is not entropy bytes 0..3";
        // The parent's CID, which the host read from the backing file; none
        // is all ones.
        if (v.parent_cid != (backing ? in.parent_cid : formats::vmdk::kNoParentCid)) return "vmdk parent CID read back differs";
        if (records.extents.size() != 1 || v.extent_count != 1) return "vmdk new image is not one extent";
        const abi::InfoVmdkExtent& e = records.extents[0];
        if (e.virtual_size != out.virtual_size || e.cluster_size != r.grain_size || e.filename.length != 0 ||
            ((e.flags & abi::kVmdkExtentCompressed) != 0) != stream)
            return "vmdk extent read back differs from the image asked for";
        break;
    }
    case abi::Format::vpc: {
        const bool fixed = r.vpc_subformat == uint32_t(abi::VpcSubformat::fixed);
        // qemu shows a block size for dynamic images only.
        if (has_cluster_size == fixed) return "vpc cluster size shown for the wrong subformat";
        if (!fixed && info.cluster_size != r.vpc_block_size) return "vpc block size read back differs";
        break;
    }
    case abi::Format::vhdx: {
        // As qemu: a block size asked for is rounded up to whole MiB and
        // capped; none asked for is chosen from the size.
        namespace vhdx = formats::vhdx;
        const uint64_t rounded = (uint64_t(r.vhdx_block_size) + vhdx::kMiB - 1) / vhdx::kMiB * vhdx::kMiB;
        const uint64_t asked = rounded < vhdx::kMaxBlockSize ? rounded : vhdx::kMaxBlockSize;
        if (!has_cluster_size || info.cluster_size != out.unit_size || (asked != 0 && info.cluster_size != asked))
            return "vhdx block size read back differs";
        break;
    }
    case abi::Format::raw:
    case abi::Format::none:
        break;
    }
    return nullptr;
}

// The emitter either refuses the request with a known status, or writes an
// image that our own probe opens with the virtual size the emitter reported,
// and that our own `info` reads with the options asked for.
inline const char* check_emit(const FormatEntry& f, const uint8_t* data, size_t size) {
    EmitCase c = decode_emit_case(f.format, data, size);
    BoundedSink sink;
    formats::EmitOutput out{};
    const Status s = f.emit(c.input, sink, scratch().fresh(), out);
    scratch().fresh();
    if (!valid_status(s)) return "emitter returned an unknown status code";
    if (s != formats::kOk) return nullptr;

    const abi::CreateRequest& r = c.request;
    if (sink.refused) return "emitter succeeded although the sink refused a call";
    if (!sink.size_set) return "emitter succeeded without setting the file size";
    if (out.file_size != sink.size) return "EmitOutput.file_size is not the size passed to set_size";
    if (out.metadata_bytes != sink.written) return "EmitOutput.metadata_bytes is not the bytes written";
    if (sink.write_end > sink.size) return "emitter wrote past the file size it set";
    if (sink.prealloc_end > sink.size) return "emitter preallocated past the file size it set";
    if (out.virtual_size < c.input.virtual_size) return "image is smaller than the virtual size asked for";
    if (out.virtual_size - c.input.virtual_size >= size_slack(r))
        return "image's virtual size is further above the size asked for than rounding explains";
    if (f.format == abi::Format::qcow2 && out.unit_size != r.cluster_size)
        return "qcow2 cluster size is not the one asked for";
    if (f.format == abi::Format::vpc && r.vpc_subformat == uint32_t(abi::VpcSubformat::dynamic) &&
        out.unit_size != r.vpc_block_size)
        return "vpc block size is not the one asked for";

    SinkImage image(sink);
    const std::vector<uint8_t> head = probe_head(image);
    // qemu (and so vpc_detect) takes a fixed VHD, footer only at the end, for raw.
    const bool vpc_fixed = f.format == abi::Format::vpc && r.vpc_subformat == uint32_t(abi::VpcSubformat::fixed);
    if (!vpc_fixed && !f.detect(head.data(), head.size())) return "our own probe does not recognise the image";
    formats::BasicImageInfo info{};
    const Status ps = f.read_basic(image, scratch().fresh(), info);
    scratch().fresh();
    if (ps != formats::kOk && !probe_may_refuse(f, r, out, ps)) return "our own probe refuses the image the emitter wrote";
    if (ps != formats::kOk) return nullptr;
    if (info.virtual_size != out.virtual_size) return "probe's virtual size differs from the emitter's";
    if (f.format == abi::Format::vmdk) {
        if (!info.has_cid) return "vmdk probe found no CID in the emitted image";
        if (info.cid != uint32_t(get_le(r.entropy, 4))) return "vmdk CID is not entropy bytes 0..3";
    }
    return check_emitted_info(f, r, c.input, out, image);
}

}  // namespace instar::fuzz
