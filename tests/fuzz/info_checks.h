// What the `info` fuzz targets check, shared with the unit test that
// replays their regression inputs (tests/unit/cli/info_fuzz_regressions_test.cpp).
// As in format_checks.h, each check_* returns nullptr when every invariant
// held, or a sentence naming the one that broke.
//
// Both sides of the trust boundary meet here: the guest's reader
// (formats::read_image_info, natively) and the host's checks and renderers
// (src/cli/info_validate, info_render). Every call into either goes
// through the functions in the first section, so a change of their
// signatures is an edit there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abi/boot_config.h"
#include "abi/messages.h"
#include "abi/ops/info.h"
#include "checksum_repair.h"
#include "cli/info_render.h"
#include "image/info_validate.h"
#include "format_checks.h"
#include "formats/common/record_sink.h"
#include "formats/info.h"
#include "formats/vmdk/vmdk_info.h"
#include "host/error.h"
#include "host/guest_records.h"
#include "host/guest_run.h"

namespace instar::fuzz {

// --- the calls under test ---------------------------------------------------

// What the guest sends besides the result: its records, batched as the
// guest's hypercall layer batches them (consecutive records of one kind
// and size, up to one RecordsMessage payload).
class GuestRecordLog final : public formats::RecordSink {
public:
    struct Batch {
        uint32_t kind;
        uint32_t record_size;
        uint32_t count;
        std::vector<uint8_t> bytes;
        bool operator==(const Batch&) const = default;
    };
    void put(uint32_t kind, const void* record, size_t size) override {
        if (batches.empty() || batches.back().kind != kind || batches.back().record_size != size ||
            batches.back().bytes.size() + size > abi::kRecordsPayloadMax)
            batches.push_back({kind, uint32_t(size), 0, {}});
        const auto* p = static_cast<const uint8_t*>(record);
        batches.back().bytes.insert(batches.back().bytes.end(), p, p + size);
        ++batches.back().count;
    }
    std::vector<Batch> batches;
};

// The extent files the host attached for a vmdk descriptor (none before
// it has), as the guest reaches its devices.
class GuestExtentFiles final : public formats::VmdkExtentFiles {
public:
    std::vector<formats::ImageSource*> files;
    uint32_t count() const override { return uint32_t(files.size()); }
    Status read(uint32_t index, Reader& reader) override {
        if (index >= files.size()) return Status::internal;
        return reader.read(*files[index]);
    }
};

// The guest's side: what the info op hands to the host for one image.
inline Status guest_read_info(formats::ImageSource& src, formats::Arena& arena, abi::Format requested,
                              bool unsafe_quirks, GuestExtentFiles& extent_files, GuestRecordLog& records,
                              abi::InfoResult& out) {
    return formats::read_image_info(src, arena, requested, unsafe_quirks, extent_files, records, out);
}

// The host's side. A refusal's text, or "" when the host accepted; its
// refusals are instar::Error (GuestFault among them), anything else thrown
// escapes and is a finding.
template <typename F>
std::string host_refusal(F&& f) {
    try {
        f();
        return "";
    } catch (const Error& e) {
        return e.what()[0] ? e.what() : "(empty refusal)";
    }
}

// Record batches as the host's collector takes them for an `info` run
// (what run_guest does with each RecordsMessage).
struct RecordBatch {
    uint32_t kind;
    uint32_t record_size;
    uint32_t count;
    const uint8_t* bytes;  // count * record_size of them
};

// run_guest's collection of one answer: the result bytes and the records
// the collector takes (it refuses what info_record_kinds() does not allow).
inline std::string host_collect(const std::vector<uint8_t>& result, const std::vector<RecordBatch>& batches,
                                GuestOutput& output) {
    return host_refusal([&] {
        RecordCollector collector(uint32_t(abi::OpId::info), image::info_record_kinds());
        for (const RecordBatch& b : batches)
            collector.add(uint32_t(abi::OpId::info), b.kind, b.record_size, b.count, b.bytes);
        output = GuestOutput{result, collector.take()};
    });
}

// inspect() on a collected answer: does it ask for extent files?
inline bool host_wants_extent_files(const GuestOutput& output) {
    bool wants = false;
    host_refusal([&] { wants = output.result_as<abi::InfoResult>("info").flags & abi::kInfoNeedsExtentFiles; });
    return wants;
}

// inspect()'s checks on a first answer asking for extent files: `names`.
inline std::string host_accept_extent_request(const GuestOutput& output, std::vector<std::string>& names) {
    return host_refusal([&] { names = image::accept_extent_file_request(output); });
}

// inspect()'s checks on a final answer (`extent_files`: the names of the
// files attached, or nullptr) for `image`; `accepted` set when they pass.
inline std::string host_accept(const GuestOutput& output, abi::Format requested,
                               const std::vector<std::string>* extent_files, image::InfoImage image,
                               std::optional<image::CheckedInfoImage>& accepted) {
    return host_refusal(
        [&] { accepted.emplace(image::accept_info_output(output, requested, extent_files, std::move(image))); });
}

// The host's rendering of an accepted chain; `refusal` set when it threw
// (it must not, once every image passed the checks).
inline std::string host_render_human(const std::vector<image::CheckedInfoImage>& chain, std::string& refusal) {
    std::string out;
    refusal = host_refusal([&] { out = cli::render_info_human(chain); });
    return out;
}

inline std::string host_render_json(const std::vector<image::CheckedInfoImage>& chain, bool backing_chain,
                                    std::string& refusal) {
    std::string out;
    refusal = host_refusal([&] { out = cli::render_info_json(chain, backing_chain); });
    return out;
}

// --- checks -----------------------------------------------------------------

// A refusal the host makes on purpose for an answer the guest may well
// give: a descriptor naming more extent files than devices can be
// attached (the count says how many, docs/info.md). Anything else refused
// is a disagreement.
inline bool deliberate_refusal(const abi::InfoResult& r) {
    return (r.flags & abi::kInfoNeedsExtentFiles) && r.vmdk.extent_count > abi::kInfoMaxVmdkExtents;
}

// Every string within its field and every list as long as its count:
// what the host must make sure of before it touches them.
inline const char* check_bounds(const image::InfoImage& img) {
    const abi::InfoResult& r = img.info;
    if (r.backing_file.length > abi::kInfoPathMax) return "backing file name longer than its field";
    if (r.backing_format.length > abi::kInfoShortMax) return "backing format longer than its field";
    if (r.snapshot_count > abi::kInfoMaxSnapshots) return "more snapshots than qemu allows";
    if (img.snapshots.size() != r.snapshot_count) return "snapshot records differ from the snapshot count";
    for (const abi::InfoSnapshot& sn : img.snapshots) {
        if (sn.id.length > abi::kInfoShortMax) return "snapshot id longer than its field";
        if (sn.name.length > abi::kInfoNameMax) return "snapshot name longer than its field";
    }
    if (r.qcow2.data_file.length > abi::kInfoPathMax) return "data file name longer than its field";
    if (r.qcow2.luks.uuid.length > abi::kInfoLuksUuidMax) return "LUKS uuid longer than its field";
    if (img.bitmaps.size() != r.qcow2.bitmap_count) return "bitmap records differ from the bitmap count";
    for (const abi::InfoBitmap& b : img.bitmaps)
        if (b.name.length > abi::kInfoBitmapNameMax) return "bitmap name longer than its field";
    if (r.vmdk.create_type.length > abi::kInfoShortMax) return "vmdk create type longer than its field";
    if (r.vmdk.extent_count > abi::kInfoMaxVmdkExtents) return "more vmdk extents than devices";
    if (img.extents.size() != r.vmdk.extent_count) return "extent records differ from the extent count";
    for (const abi::InfoVmdkExtent& e : img.extents) {
        if (e.filename.length > abi::kInfoExtentNameMax) return "extent file name longer than its field";
        if (e.format.length > abi::kInfoShortMax) return "extent format longer than its field";
    }
    return nullptr;
}

// The extent file names the host accepted: what qemu could read from an
// extent line, at most as many as devices.
inline const char* check_extent_names(const std::vector<std::string>& names) {
    if (names.empty() || names.size() > abi::kInfoMaxVmdkExtents) return "extent file count out of range";
    for (const std::string& n : names) {
        if (n.empty() || n.size() > abi::kInfoExtentNameLongest) return "extent file name length out of range";
        if (n.find_first_of(std::string("\0\r\n\"", 4)) != std::string::npos)
            return "extent file name holds a byte qemu stops at";
    }
    return nullptr;
}

// Human output: printable ASCII and newlines only, whatever the guest's
// strings held, and one "image: " line per image (no string can fake one).
inline const char* check_human_text(const std::string& text, size_t images) {
    size_t image_lines = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c != '\n' && (c < 0x20 || c >= 0x7f)) return "human output holds a raw control or non-ASCII byte";
        if ((i == 0 || text[i - 1] == '\n') && text.compare(i, 7, "image: ") == 0) ++image_lines;
    }
    if (text.empty() || text.back() != '\n') return "human output does not end with a newline";
    if (image_lines != images) return "human output has a different number of \"image:\" lines than images";
    return nullptr;
}

inline const char* check_json_image(const nlohmann::json& j, const image::InfoImage& img) {
    if (!j.is_object()) return "JSON image is not an object";
    const auto size = j.find("virtual-size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() != int64_t(img.info.virtual_size))
        return "JSON virtual-size is not the validated one";
    const auto format = j.find("format");
    if (format == j.end() || !format->is_string() || *format != image::info_format_name(img.info.format))
        return "JSON format is not the validated one";
    const auto name = j.find("filename");
    if (name == j.end() || !name->is_string()) return "JSON image without a filename string";
    const auto snaps = j.find("snapshots");
    const size_t listed = snaps == j.end() ? 0 : snaps->is_array() ? snaps->size() : SIZE_MAX;
    if (listed != img.snapshots.size()) return "JSON lists a different number of snapshots";
    return nullptr;
}

// JSON output: ASCII only (qemu escapes the rest), parses back, and says
// what the validated result says.
inline const char* check_json_text(const std::string& text, const std::vector<image::CheckedInfoImage>& chain,
                                   bool backing_chain) {
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c != '\n' && (c < 0x20 || c >= 0x7f)) return "JSON output holds a raw control or non-ASCII byte";
    }
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return "JSON output does not parse";
    if (!backing_chain) return chain.size() == 1 ? check_json_image(j, *chain[0]) : "one image expected";
    if (!j.is_array() || j.size() != chain.size()) return "JSON backing chain is not a list of every image";
    for (size_t i = 0; i < chain.size(); ++i)
        if (const char* bad = check_json_image(j[i], *chain[i])) return bad;
    return nullptr;
}

// Render a chain the host accepted, both ways, and check the text.
inline const char* check_render(const std::vector<image::CheckedInfoImage>& chain, bool backing_chain) {
    static const bool zone_loaded = (cli::prepare_info_render(), true);  // as the CLI, once
    (void)zone_loaded;
    std::string refusal;
    const std::string human = host_render_human(chain, refusal);
    if (!refusal.empty()) return "human renderer refused an answer the host accepted";
    if (const char* bad = check_human_text(human, chain.size())) return bad;
    const std::string json = host_render_json(chain, backing_chain, refusal);
    if (!refusal.empty()) return "JSON renderer refused an answer the host accepted";
    return check_json_text(json, chain, backing_chain);
}

// Results compared byte for byte, but for the padding after the qcow2
// part and at the end, which nothing writes.
inline bool same_result(const abi::InfoResult& a, const abi::InfoResult& b) {
    constexpr size_t kGap1 = offsetof(abi::InfoResult, qcow2) + sizeof(abi::InfoQcow2);
    constexpr size_t kVmdk = offsetof(abi::InfoResult, vmdk);
    constexpr size_t kGap2 = kVmdk + sizeof(abi::InfoVmdk);
    const auto* pa = reinterpret_cast<const uint8_t*>(&a);
    const auto* pb = reinterpret_cast<const uint8_t*>(&b);
    return std::memcmp(pa, pb, kGap1) == 0 && std::memcmp(pa + kVmdk, pb + kVmdk, kGap2 - kVmdk) == 0;
}

// --- guest side: read_image_info on arbitrary image bytes -------------------

// The guest learns a device's size from the host, which takes it from
// fstat: never above INT64_MAX. A sparse fuzz input can say more; the
// info targets see such a file cut to the largest size a file can have
// (its bytes unchanged), since a raw result reports the size as it is.
class HostSizedImage : public formats::ImageSource {
public:
    explicit HostSizedImage(formats::ImageSource& inner) : inner_(inner) {}
    uint64_t size() const override {
        constexpr uint64_t kMaxFileSize = uint64_t(INT64_MAX);
        return inner_.size() < kMaxFileSize ? inner_.size() : kMaxFileSize;
    }
    bool read(uint64_t offset, void* buf, size_t len) override {
        if (!inner_.read(offset, buf, len)) return false;
        if (offset >= size() || len > size() - offset) {  // past the cut reads as zero, as past any end
            const uint64_t keep = offset < size() ? size() - offset : 0;
            std::memset(static_cast<uint8_t*>(buf) + keep, 0, len - size_t(keep));
        }
        return true;
    }

private:
    formats::ImageSource& inner_;
};

// The guest's records as the host receives them.
inline std::vector<RecordBatch> batches_of(const GuestRecordLog& log) {
    std::vector<RecordBatch> out;
    for (const GuestRecordLog::Batch& b : log.batches) out.push_back({b.kind, b.record_size, b.count, b.bytes.data()});
    return out;
}

// One guest run as the info op makes it, twice on a refilled scratch
// arena: the same status, result and records both times.
inline const char* guest_run_twice(formats::ImageSource& src, abi::Format requested, bool unsafe_quirks,
                                   GuestExtentFiles& files, Status& status, abi::InfoResult& a,
                                   GuestRecordLog& records) {
    static abi::InfoResult b;  // as in the guest: off the stack
    GuestRecordLog records_b;
    std::memset(&a, 0x5a, sizeof a);
    std::memset(&b, 0xa5, sizeof b);
    status = guest_read_info(src, scratch().fresh(), requested, unsafe_quirks, files, records, a);
    const Status again = guest_read_info(src, scratch().fresh(), requested, unsafe_quirks, files, records_b, b);
    scratch().fresh();
    if (!valid_status(status)) return "read_image_info returned an unknown status code";
    if (status != again) return "read_image_info gave two different answers for the same bytes";
    if (status == formats::kOk && (!same_result(a, b) || records.batches != records_b.batches))
        return "read_image_info reported two different results for the same bytes";
    return nullptr;
}

inline const char* disagreement(const std::string& refusal) {
    static std::string why;
    why = "the host refuses what the guest answered: " + refusal;
    return why.c_str();
}

// An image as `info` handles it, guest and host: a run of the guest; when
// its answer asks for a vmdk descriptor's extent files, the host's
// acceptance of the request and a second run with the files attached (the
// input's further files, empty ones past those); the host's acceptance of
// the final answer, within bounds. A refusal by the host of anything the
// guest answered is a guest/host disagreement, and a bug on one side.
inline const char* check_info_once(FuzzFiles& files, formats::ImageSource& src, abi::Format requested,
                                   bool unsafe_quirks, Status& status, abi::InfoResult& a) {
    GuestExtentFiles none;
    GuestRecordLog records;
    if (const char* bad = guest_run_twice(src, requested, unsafe_quirks, none, status, a, records)) return bad;
    if (status != formats::kOk) return nullptr;

    const auto* p = reinterpret_cast<const uint8_t*>(&a);
    GuestOutput output;
    std::string refusal = host_collect(std::vector<uint8_t>(p, p + sizeof a), batches_of(records), output);
    if (!refusal.empty()) return disagreement(refusal);

    std::vector<std::string> names;
    const bool attached = host_wants_extent_files(output);
    if (attached) {
        refusal = host_accept_extent_request(output, names);
        if (!refusal.empty()) return deliberate_refusal(a) ? nullptr : disagreement(refusal);
        if (const char* bad = check_extent_names(names)) return bad;
        std::vector<std::unique_ptr<HostSizedImage>> sized;
        GuestExtentFiles attached_files;
        for (size_t i = 0; i < names.size(); ++i) {
            sized.push_back(std::make_unique<HostSizedImage>(files.named(i)));
            attached_files.files.push_back(sized.back().get());
        }
        records.batches.clear();
        if (const char* bad = guest_run_twice(src, requested, unsafe_quirks, attached_files, status, a, records))
            return bad;
        if (status != formats::kOk) return nullptr;
        refusal = host_collect(std::vector<uint8_t>(p, p + sizeof a), batches_of(records), output);
        if (!refusal.empty()) return disagreement(refusal);
    }

    image::InfoImage img;
    img.filename = "fuzz.img";
    std::optional<image::CheckedInfoImage> accepted;
    refusal = host_accept(output, requested, attached ? &names : nullptr, img, accepted);
    if (!refusal.empty()) return disagreement(refusal);
    // Rendering what the host accepted is fuzz_info_validate's part (its
    // inputs are every answer the host accepts, these among them): here it
    // would take most of each run, the JSON library's own code guiding the
    // fuzzer more than the image's bytes do.
    return check_bounds(**accepted);
}

// An info target for one format: the image (the input's first file), its
// checksums repaired (checksum_repair.h), read as that format (-f FMT),
// and detected (no -f, both with and without --unsafe-quirks). With the
// format's probe, read_basic (what `create -b` reads) must agree on the
// virtual size whenever both open the image.
inline const char* check_info(const FormatEntry& f, const uint8_t* data, size_t size) {
    static abi::InfoResult r;
    FuzzFiles files(data, size);
    HostSizedImage host_sized(files.image());
    ChecksumRepairedImage src(host_sized, f.format);
    Status s{};
    if (const char* bad = check_info_once(files, src, f.format, false, s, r)) return bad;
    if (s == formats::kOk) {
        formats::BasicImageInfo basic{};
        const Status bs = f.read_basic(src, scratch().fresh(), basic);
        scratch().fresh();
        if (bs == formats::kOk && basic.virtual_size != r.virtual_size)
            return "info and read_basic report different virtual sizes";
    }
    Status detected{};
    if (const char* bad = check_info_once(files, src, abi::Format::none, false, detected, r)) return bad;
    if (detected == Status::image_format_unknown) {
        if (const char* bad = check_info_once(files, src, abi::Format::none, true, detected, r)) return bad;
        if (detected != formats::kOk || r.format != uint32_t(abi::Format::raw))
            return "unknown bytes are not raw with --unsafe-quirks";
    }
    return nullptr;
}

// --- host side: arbitrary bytes as the guest's answer ------------------------

// Input: a control byte, a name length byte and that many bytes of image
// file name (what the CLI prints; from the guest, with --backing-chain),
// an 8-byte actual size, the result struct, then records:
//   ctl bit 0: the result is a u16le length and that many bytes, any size
//              (else exactly sizeof(abi::InfoResult) bytes, zero-padded
//              when the input is short, so most inputs reach the checks)
//   ctl bit 1: JSON as a --backing-chain list
//   ctl bit 2: a chain of two images: the second is the first's backing
//              file, under the name the CLI would open (same answer)
//   ctl bit 3: the records are batches, each a u32le kind, record size
//              and count, then the records (cut to the bytes there are, as
//              the message decoder guarantees them); else the rest is
//              snapshot records, one batch
//   ctl bits 4-6: the format asked for (-f), modulo 6: none (detect),
//              raw, qcow2, vmdk, vpc, vhdx
//   ctl bit 7: a final answer after extent files were attached, under the
//              names of its own extent records (else, for an answer that
//              asks for extent files, the request is what is checked)
inline constexpr uint8_t kValidateRawResult = 1 << 0;
inline constexpr uint8_t kValidateJsonChain = 1 << 1;
inline constexpr uint8_t kValidateTwoImages = 1 << 2;
inline constexpr uint8_t kValidateBatches = 1 << 3;
inline constexpr uint8_t kValidateAfterExtentFiles = 1 << 7;

struct ValidateCase {
    uint8_t ctl = 0;
    std::string filename;
    uint64_t actual_size = 0;
    std::vector<uint8_t> result;
    std::vector<uint8_t> records;  // as the input holds them (see ctl bit 3)
};

// Reads the input front to back; short reads are zero-filled.
class InputReader {
public:
    InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    std::vector<uint8_t> bytes(size_t n, bool pad = true) {
        const size_t k = n < size_ - pos_ ? n : size_ - pos_;
        std::vector<uint8_t> out(data_ + pos_, data_ + pos_ + k);
        pos_ += k;
        if (pad) out.resize(n);
        return out;
    }
    uint64_t le(size_t n) { return get_le(bytes(n).data(), n); }
    std::vector<uint8_t> rest() { return bytes(size_ - pos_); }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

inline ValidateCase decode_validate_case(const uint8_t* data, size_t size) {
    InputReader in(data, size);
    ValidateCase c;
    c.ctl = uint8_t(in.le(1));
    const std::vector<uint8_t> name = in.bytes(size_t(in.le(1)), false);
    c.filename.assign(name.begin(), name.end());
    c.actual_size = in.le(8);
    c.result = (c.ctl & kValidateRawResult) ? in.bytes(size_t(in.le(2)), false) : in.bytes(sizeof(abi::InfoResult));
    c.records = in.rest();
    return c;
}

// The input check_validate decodes to `c` (make_seeds writes seeds so).
inline std::vector<uint8_t> encode_validate_case(const ValidateCase& c) {
    std::vector<uint8_t> out = {c.ctl, uint8_t(c.filename.size() < 255 ? c.filename.size() : 255)};
    out.insert(out.end(), c.filename.begin(), c.filename.begin() + out[1]);
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(c.actual_size >> (8 * i)));
    if (c.ctl & kValidateRawResult)
        for (int i = 0; i < 2; ++i) out.push_back(uint8_t(c.result.size() >> (8 * i)));
    out.insert(out.end(), c.result.begin(), c.result.end());
    out.insert(out.end(), c.records.begin(), c.records.end());
    return out;
}

// Records as batches in the input's form (ctl bit 3).
inline void append_batch(std::vector<uint8_t>& out, abi::InfoRecord kind, uint32_t record_size, uint32_t count,
                         const void* records) {
    for (uint32_t v : {uint32_t(kind), record_size, count})
        for (int k = 0; k < 4; ++k) out.push_back(uint8_t(v >> (8 * k)));
    const auto* p = static_cast<const uint8_t*>(records);
    out.insert(out.end(), p, p + size_t(count) * record_size);
}

inline std::vector<RecordBatch> decode_batches(const ValidateCase& c) {
    std::vector<RecordBatch> out;
    const uint8_t* p = c.records.data();
    size_t left = c.records.size();
    if (!(c.ctl & kValidateBatches)) {
        const uint32_t count = uint32_t(left / sizeof(abi::InfoSnapshot));
        if (count) out.push_back({uint32_t(abi::InfoRecord::snapshot), uint32_t(sizeof(abi::InfoSnapshot)), count, p});
        return out;
    }
    while (left >= 12) {
        RecordBatch b{uint32_t(get_le(p, 4)), uint32_t(get_le(p + 4, 4)), uint32_t(get_le(p + 8, 4)), p + 12};
        p += 12;
        left -= 12;
        if (b.record_size != 0 && b.count > left / b.record_size) b.count = uint32_t(left / b.record_size);
        const size_t n = size_t(b.count) * b.record_size;
        out.push_back(b);
        p += n;
        left -= n;
    }
    return out;
}

// The names a final answer's extents would have been attached under.
inline std::vector<std::string> extent_names_of(const GuestOutput& output) {
    std::vector<std::string> names;
    host_refusal([&] {
        for (const abi::InfoVmdkExtent& e : records_as<abi::InfoVmdkExtent>(output.records[image::kInfoExtentList]))
            names.emplace_back(e.filename.bytes, e.filename.length <= abi::kInfoExtentNameMax ? e.filename.length : 0);
    });
    return names;
}

// The host collects, decodes and checks the answer as inspect() does;
// whatever it accepts must be within bounds and render cleanly (escaped
// human text, valid JSON).
inline const char* check_validate(const uint8_t* data, size_t size) {
    const ValidateCase c = decode_validate_case(data, size);
    GuestOutput output;
    if (!host_collect(c.result, decode_batches(c), output).empty()) return nullptr;
    if (!(c.ctl & kValidateAfterExtentFiles) && host_wants_extent_files(output)) {
        std::vector<std::string> names;
        if (!host_accept_extent_request(output, names).empty()) return nullptr;
        return check_extent_names(names);
    }
    const auto requested = abi::Format(((c.ctl >> 4) & 7) % 6);
    const std::vector<std::string> names = extent_names_of(output);
    image::InfoImage img;
    img.filename = c.filename;
    img.actual_size = c.actual_size;
    const bool after_files = c.ctl & kValidateAfterExtentFiles;
    std::optional<image::CheckedInfoImage> accepted;
    if (!host_accept(output, requested, after_files ? &names : nullptr, img, accepted).empty()) return nullptr;
    if (c.result.size() != sizeof(abi::InfoResult)) return "the host accepted a result that is not one InfoResult";
    if (const char* bad = check_bounds(**accepted)) return bad;

    std::vector<image::CheckedInfoImage> chain = {*accepted};
    const bool backing_chain = c.ctl & (kValidateJsonChain | kValidateTwoImages);
    if (c.ctl & kValidateTwoImages) {
        // The same image again under the name its backing file gets.
        image::InfoImage second = **accepted;
        const auto next = image::info_full_backing_filename(second);
        second.filename = next ? *next : "backing";
        std::string refused = host_refusal([&] { chain.push_back(image::check_info_image(std::move(second))); });
        if (!refused.empty()) return "the host's checks refused an image they had accepted under another name";
    }
    return check_render(chain, backing_chain);
}

}  // namespace instar::fuzz
