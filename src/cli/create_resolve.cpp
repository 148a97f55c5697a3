// The format drivers' checks (qemu 7.2's *_co_create_opts / *_co_create,
// which run after the "Formatting" line) and the resolved CreateRequest.
#include <cstring>
#include <string_view>
#include <tuple>

#include "abi/format.h"
#include "cli/create_option_table.h"
#include "cli/create_options.h"
#include "cli/formatting_line.h"
#include "formats/common/bits.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/vhdx/vhdx_layout.h"
#include "formats/vmdk/vmdk_layout.h"
#include "formats/vpc/vpc_layout.h"
#include "host/error.h"

namespace instar::cli {
namespace {
using formats::is_power_of_two;
using formats::round_up;

using abi::Format;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kSectorBytes = 512;

// Limits the format code defines (formats/*/..._layout.h), under the names
// this file uses; the defaults are qemu-img's.
constexpr uint64_t kQcow2MaxL1Entries = formats::qcow2::kMaxL1Bytes / 8;
constexpr uint32_t kQcow2MinClusterSize = 1u << formats::qcow2::kMinClusterBits;
constexpr uint32_t kQcow2MaxClusterSize = 1u << formats::qcow2::kMaxClusterBits;
constexpr uint32_t kQcow2ExtendedL2MinClusterSize = 1u << formats::qcow2::kMinExtendedL2ClusterBits;
constexpr uint32_t kQcow2DefaultClusterSize = 65536;
constexpr uint32_t kQcow2BackingNameMax = formats::qcow2::kBackingNameMax;

// vmdk: qemu-img 7.2 writes a broken image (a bare 64 KiB header) once the
// grain directory would reach 2^23 grain tables of 512 grains; instar
// refuses from there on.
constexpr uint64_t kVmdkMaxGrainTables = (uint64_t{1} << 23) - 1;
constexpr uint64_t kVmdkGrainsPerTable = formats::vmdk::kGtesPerGt;
constexpr uint32_t kVmdkDefaultGrainSize = 65536;

// vpc: 0xff000000 sectors (2040 GiB) is the largest size qemu accepts.
constexpr uint64_t kVpcMaxSize = formats::vpc::kMaxSectors * kSectorBytes;
constexpr uint32_t kVpcDefaultBlockSize = formats::vpc::kDefaultBlockSize;

constexpr uint64_t kVhdxMaxSize = uint64_t{64} << 40;
constexpr uint64_t kVhdxMaxBlockSize = formats::vhdx::kMaxBlockSize;
constexpr uint64_t kVhdxDefaultLogSize = formats::vhdx::kDefaultLogSize;

[[noreturn]] void fail(const CreatePlan& plan, const std::string& message) {
    throw Error(plan.filename + ": " + message);
}

const OptionValue* get(const CreatePlan& plan, std::string_view name) {
    for (auto it = plan.options.rbegin(); it != plan.options.rend(); ++it) {
        if (it->name == name) return &*it;
    }
    return nullptr;
}

bool get_bool(const CreatePlan& plan, std::string_view name, bool fallback) {
    const OptionValue* v = get(plan, name);
    return v ? v->boolean : fallback;
}

// Whole 512-byte sectors covering `size`, without wrapping near 2^64.
uint64_t sectors_of(uint64_t size) { return size / kSectorBytes + (size % kSectorBytes != 0); }

// ROUND_UP as qemu writes it for powers of two: wraps to 0 near 2^64.
uint64_t round_up_pow2(uint64_t v, uint64_t unit) { return (v + unit - 1) & ~(unit - 1); }

[[noreturn]] void too_large(const CreatePlan& plan, std::string driver_words, const std::string& hint = "") {
    throw ImageTooLarge(plan.filename + ": The image size is too large for file format '" + plan.format_name + "'" + hint,
                        std::move(driver_words));
}

std::optional<abi::Preallocation> preallocation_from_name(std::string_view s) {
    if (s == "off") return abi::Preallocation::off;
    if (s == "metadata") return abi::Preallocation::metadata;
    if (s == "falloc") return abi::Preallocation::falloc;
    if (s == "full") return abi::Preallocation::full;
    return std::nullopt;
}

// The file protocol creates the file before the format driver looks at
// its own keys (except vmdk's, read first); so these errors come first.
abi::Preallocation check_file_protocol(const CreatePlan& plan, HostFileHints& hints) {
    abi::Preallocation mode = abi::Preallocation::off;
    if (plan.format != Format::qcow2) {
        if (const OptionValue* p = get(plan, "preallocation")) {
            std::optional<abi::Preallocation> m = preallocation_from_name(p->text);
            if (!m) fail(plan, "invalid parameter value: " + p->text);
            mode = *m;
        }
    }
    if (const OptionValue* hint = get(plan, "extent_size_hint")) {
        if (hint->number > UINT32_MAX) fail(plan, "Extent size hint is too large");
        hints.extent_size_hint = static_cast<uint32_t>(hint->number);
    }
    hints.nocow = get_bool(plan, "nocow", false);
    if (mode == abi::Preallocation::metadata) fail(plan, "Unsupported preallocation mode: metadata");
    return mode;
}

void copy_string(char* dst, size_t capacity, const std::string& src) {
    std::memset(dst, 0, capacity);
    std::memcpy(dst, src.data(), src.size() < capacity ? src.size() : capacity - 1);
}

void resolve_raw(const CreatePlan& plan, ResolvedCreate& r, uint64_t size) {
    r.request.preallocation = static_cast<uint32_t>(check_file_protocol(plan, r.file_hints));
    // ftruncate takes a signed off_t.
    if (size > static_cast<uint64_t>(INT64_MAX)) fail(plan, "Could not resize file: Invalid argument");
}

void resolve_qcow2(const CreatePlan& plan, ResolvedCreate& r, uint64_t size) {
    check_file_protocol(plan, r.file_hints);

    // QAPI's parse of the string keys, in BlockdevCreateOptionsQcow2 order.
    uint32_t version = 3;
    if (const OptionValue* compat = get(plan, "compat")) {
        if (compat->text == "0.10" || compat->text == "v2") {
            version = 2;
        } else if (compat->text == "1.1" || compat->text == "v3") {
            version = 3;
        } else {
            fail(plan, "Parameter 'version' does not accept value '" + compat->text + "'");
        }
    }
    const OptionValue* backing_fmt = get(plan, "backing_fmt");
    if (backing_fmt && !is_qemu_block_driver_name(backing_fmt->text)) {
        fail(plan, "Parameter 'backing-fmt' does not accept value '" + backing_fmt->text + "'");
    }
    abi::Preallocation prealloc = abi::Preallocation::off;
    if (const OptionValue* p = get(plan, "preallocation")) {
        std::optional<abi::Preallocation> m = preallocation_from_name(p->text);
        if (!m) fail(plan, "Parameter 'preallocation' does not accept value '" + p->text + "'");
        prealloc = *m;
    }
    abi::Qcow2Compression compression = abi::Qcow2Compression::zlib;
    if (const OptionValue* c = get(plan, "compression_type")) {
        if (c->text == "zstd") {
            compression = abi::Qcow2Compression::zstd;
        } else if (c->text != "zlib") {
            fail(plan, "Parameter 'compression-type' does not accept value '" + c->text + "'");
        }
    }

    const bool extended_l2 = get_bool(plan, "extended_l2", false);
    if (extended_l2 && version < 3) {
        fail(plan,
             "Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or "
             "greater)");
    }
    const OptionValue* cs = get(plan, "cluster_size");
    const uint64_t cluster_size = cs ? cs->number : kQcow2DefaultClusterSize;
    if (!is_power_of_two(cluster_size) || cluster_size < kQcow2MinClusterSize || cluster_size > kQcow2MaxClusterSize) {
        fail(plan, "Cluster size must be a power of two between 512 and 2048k");
    }
    if (extended_l2 && cluster_size < kQcow2ExtendedL2MinClusterSize) {
        fail(plan, "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
    }
    const OptionValue* backing = get(plan, "backing_file");
    if (backing && prealloc != abi::Preallocation::off && !extended_l2) {
        fail(plan, "Backing file and preallocation can only be used at the same time if extended_l2 is on");
    }
    if (backing_fmt && !backing) fail(plan, "Backing format cannot be used without backing file");
    const bool lazy = get_bool(plan, "lazy_refcounts", false);
    if (lazy && version < 3) {
        fail(plan,
             "Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or greater)");
    }
    const OptionValue* rb = get(plan, "refcount_bits");
    const uint64_t refcount_bits = rb ? rb->number : 16;
    if (refcount_bits > 64 || !is_power_of_two(refcount_bits)) {
        fail(plan, "Refcount width must be a power of two and may not exceed 64 bits");
    }
    if (version < 3 && refcount_bits != 16) {
        fail(plan,
             "Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or "
             "greater)");
    }
    if (compression != abi::Qcow2Compression::zlib && version < 3) {
        fail(plan,
             "Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 "
             "or greater)");
    }
    const uint64_t l2_entries = cluster_size / (extended_l2 ? 16 : 8);
    const uint64_t per_l1_entry = cluster_size * l2_entries;
    const uint64_t sectors_per_l1_entry = per_l1_entry / kSectorBytes;
    if ((sectors_of(size) + sectors_per_l1_entry - 1) / sectors_per_l1_entry > kQcow2MaxL1Entries) {
        too_large(plan, "Could not resize image: Failed to grow the L1 table: File too large",
                  " (try using a larger cluster size)");
    }
    if (backing && backing->text.size() > kQcow2BackingNameMax) {
        fail(plan, "Could not assign backing file '" + backing->text + "' with format '" +
                       (backing_fmt ? backing_fmt->text : std::string()) + "': Invalid argument");
    }

    abi::CreateRequest& q = r.request;
    q.preallocation = static_cast<uint32_t>(prealloc);
    q.qcow2_version = version;
    q.cluster_size = static_cast<uint32_t>(cluster_size);
    q.refcount_bits = static_cast<uint32_t>(refcount_bits);
    q.compression_type = static_cast<uint32_t>(compression);
    if (lazy) q.flags |= abi::kCreateLazyRefcounts;
    if (extended_l2) q.flags |= abi::kCreateExtendedL2;
}

void resolve_vmdk(const CreatePlan& plan, ResolvedCreate& r, uint64_t size) {
    if (const OptionValue* bf = get(plan, "backing_fmt"); bf && bf->text != "vmdk") {
        fail(plan, "backing_file must be a vmdk image");
    }
    abi::VmdkAdapter adapter = abi::VmdkAdapter::ide;
    if (const OptionValue* a = get(plan, "adapter_type")) {
        if (a->text == "ide") {
            adapter = abi::VmdkAdapter::ide;
        } else if (a->text == "buslogic") {
            adapter = abi::VmdkAdapter::buslogic;
        } else if (a->text == "lsilogic") {
            adapter = abi::VmdkAdapter::lsilogic;
        } else if (a->text == "legacyESX") {
            adapter = abi::VmdkAdapter::legacy_esx;
        } else {
            fail(plan, "invalid parameter value: " + a->text);
        }
    }
    abi::VmdkSubformat sub = abi::VmdkSubformat::monolithic_sparse;
    if (const OptionValue* s = get(plan, "subformat")) {
        if (s->text == "monolithicSparse") {
            sub = abi::VmdkSubformat::monolithic_sparse;
        } else if (s->text == "streamOptimized") {
            sub = abi::VmdkSubformat::stream_optimized;
        } else {
            // plan_create() already refused the subformats instar lacks.
            fail(plan, "invalid parameter value: " + s->text);
        }
    }
    const bool compat6 = get_bool(plan, "compat6", false);
    const OptionValue* hw = get(plan, "hwversion");
    const bool hw_set = hw && hw->text != "undefined";
    if (compat6 && hw_set) fail(plan, "compat6 cannot be enabled with hwversion set");
    r.request.preallocation = static_cast<uint32_t>(check_file_protocol(plan, r.file_hints));

    const uint32_t grain = plan.grain_size.value_or(kVmdkDefaultGrainSize);
    const uint64_t grains = (sectors_of(size) + grain / kSectorBytes - 1) / (grain / kSectorBytes);
    if ((grains + kVmdkGrainsPerTable - 1) / kVmdkGrainsPerTable > kVmdkMaxGrainTables)
        too_large(plan, "The image size is too large for file format 'vmdk'");

    // An empty field means "qemu's default" in the request (the emitter
    // knows it, compat6 included), so an explicit empty value cannot be
    // carried and is refused.
    const OptionValue* tools = get(plan, "toolsversion");
    std::string hwversion = hw_set ? hw->text : "";
    std::string toolsversion = tools ? tools->text : "";
    for (const auto& [key, given, value] :
         {std::tuple<const char*, bool, const std::string&>{"hwversion", hw_set, hwversion},
          std::tuple<const char*, bool, const std::string&>{"toolsversion", tools != nullptr, toolsversion}}) {
        if (given && (value.empty() || value.size() > abi::kVmdkVersionStringMax)) {
            fail(plan, std::string("Parameter '") + key + "' must be 1 to 63 characters in instar");
        }
    }

    abi::CreateRequest& q = r.request;
    q.vmdk_subformat = static_cast<uint32_t>(sub);
    q.vmdk_adapter = static_cast<uint32_t>(adapter);
    q.grain_size = grain;
    if (compat6) q.flags |= abi::kCreateCompat6;
    if (get_bool(plan, "zeroed_grain", false)) q.flags |= abi::kCreateZeroedGrain;
    copy_string(q.vmdk_hwversion, sizeof q.vmdk_hwversion, hwversion);
    copy_string(q.vmdk_toolsversion, sizeof q.vmdk_toolsversion, toolsversion);
}

void resolve_vpc(const CreatePlan& plan, ResolvedCreate& r, uint64_t size) {
    r.request.preallocation = static_cast<uint32_t>(check_file_protocol(plan, r.file_hints));
    abi::VpcSubformat sub = abi::VpcSubformat::dynamic;
    if (const OptionValue* s = get(plan, "subformat")) {
        if (s->text == "fixed") {
            sub = abi::VpcSubformat::fixed;
        } else if (s->text != "dynamic") {
            fail(plan, "Parameter 'subformat' does not accept value '" + s->text + "'");
        }
    }
    if (size > kVpcMaxSize) too_large(plan, "Disk size is too large, max size is 2040 GiB");
    r.request.vpc_subformat = static_cast<uint32_t>(sub);
    r.request.vpc_block_size = plan.vpc_block_size.value_or(kVpcDefaultBlockSize);
    if (get_bool(plan, "force_size", false)) r.request.flags |= abi::kCreateForceSize;
}

// qemu's choice of block size when block_size=0.
uint64_t vhdx_auto_block_size(uint64_t size) {
    if (size > (uint64_t{32} << 40)) return 64 * kMiB;
    if (size > (uint64_t{100} << 30)) return 32 * kMiB;
    if (size > (uint64_t{1} << 30)) return 16 * kMiB;
    return 8 * kMiB;
}

void resolve_vhdx(const CreatePlan& plan, ResolvedCreate& r, uint64_t size) {
    r.request.preallocation = static_cast<uint32_t>(check_file_protocol(plan, r.file_hints));
    abi::VhdxSubformat sub = abi::VhdxSubformat::dynamic;
    if (const OptionValue* s = get(plan, "subformat")) {
        if (s->text == "fixed") {
            sub = abi::VhdxSubformat::fixed;
        } else if (s->text != "dynamic") {
            fail(plan, "Parameter 'subformat' does not accept value '" + s->text + "'");
        }
    }
    if (sectors_of(size) > kVhdxMaxSize / kSectorBytes) fail(plan, "Image size too large; max of 64TB");
    const uint64_t rounded = round_up(size, kSectorBytes);

    // qemu rounds both up to whole MiB (and caps the block size) before
    // checking them.
    const OptionValue* ls = get(plan, "log_size");
    const uint64_t log_size = round_up_pow2(ls ? ls->number : kVhdxDefaultLogSize, kMiB);
    if (log_size < kMiB) fail(plan, "Log size must be a multiple of 1 MB");
    if (log_size > UINT32_MAX) fail(plan, "Log size must be smaller than 4 GB");
    const OptionValue* bs = get(plan, "block_size");
    uint64_t block_size = round_up_pow2(bs ? bs->number : 0, kMiB);
    if (block_size > kVhdxMaxBlockSize) block_size = kVhdxMaxBlockSize;
    if (block_size == 0) block_size = vhdx_auto_block_size(rounded);
    if (!is_power_of_two(block_size)) fail(plan, "Block size must be a power of two");

    r.request.vhdx_subformat = static_cast<uint32_t>(sub);
    r.request.vhdx_block_size = static_cast<uint32_t>(block_size);
    r.request.vhdx_log_size = log_size;
    if (get_bool(plan, "block_state_zero", true)) r.request.flags |= abi::kCreateBlockStateZero;
}

}  // namespace

ResolvedCreate resolve_create(const CreatePlan& plan) {
    ResolvedCreate r;
    abi::CreateRequest& q = r.request;
    q.format = static_cast<uint32_t>(plan.format);
    const OptionValue* size_opt = get(plan, "size");
    const uint64_t size = size_opt ? size_opt->number : 0;

    switch (plan.format) {
    case Format::raw: resolve_raw(plan, r, size); break;
    case Format::qcow2: resolve_qcow2(plan, r, size); break;
    case Format::vmdk: resolve_vmdk(plan, r, size); break;
    case Format::vpc: resolve_vpc(plan, r, size); break;
    case Format::vhdx: resolve_vhdx(plan, r, size); break;
    case Format::none: throw Error("no format to create");  // plan_create always names one
    }

    const std::string image_name = image_base_name(plan.filename);
    if (image_name.size() > abi::kImageNameMax) fail(plan, "File name too long");
    const OptionValue* backing = get(plan, "backing_file");
    if (backing && backing->text.size() > abi::kBackingPathMax) {
        fail(plan, "Backing file names longer than 1024 bytes are not supported by instar");
    }

    // Every qemu driver rounds the size up to whole 512-byte sectors.
    q.flags |= abi::kCreateHasSize;
    q.size = round_up(size, kSectorBytes);
    copy_string(q.image_name, sizeof q.image_name, image_name);
    if (backing) {
        q.flags |= abi::kCreateHasBacking;
        copy_string(q.backing_file, sizeof q.backing_file, backing->text);
        r.backing_path = backing_path_relative_to(plan.filename, backing->text);
        // vmdk records its parent's CID, so qemu opens the parent even with -u.
        if (plan.format == Format::vmdk) {
            q.flags |= abi::kCreateBackingAttached;
            r.attach_backing = true;
        }
    }
    if (const OptionValue* bf = get(plan, "backing_fmt")) q.backing_format = static_cast<uint32_t>(abi::format_from_name(bf->text.data(), bf->text.size()));
    r.sector_size = plan.sector_size;
    return r;
}

}  // namespace instar::cli
