#include "formats/vmdk/vmdk_create_plan.h"

#include "formats/common/bits.h"
#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_descriptor.h"
#include "formats/vmdk/vmdk_text.h"

namespace instar::formats::vmdk {

namespace {

using abi::CreateRequest;

constexpr uint32_t kMinGrainBytes = 4096;
constexpr uint32_t kMaxGrainBytes = 65536;

// Options of `qemu-img create -f vmdk`; any other flag names an option the
// vmdk driver does not have, which qemu refuses.
constexpr uint32_t kVmdkFlags = abi::kCreateHasSize | abi::kCreateHasBacking |
                                abi::kCreateBackingAttached | abi::kCreateCompat6 |
                                abi::kCreateZeroedGrain;

// qemu's hwversion when neither hwversion nor compat6 is given, and the one
// compat6 implies.
constexpr const char* kDefaultHwVersion = "4";
constexpr const char* kCompat6HwVersion = "6";
constexpr const char* kDefaultToolsVersion = "2147483647";

Status check_preallocation(uint32_t mode) {
    // The vmdk driver has no preallocation option: qemu hands it to the
    // protocol layer, which creates the file empty, so falloc and full
    // allocate nothing and the image is that of `off`. The file protocol
    // itself refuses metadata.
    switch (static_cast<abi::Preallocation>(mode)) {
        case abi::Preallocation::off:
        case abi::Preallocation::falloc:
        case abi::Preallocation::full:
            return kOk;
        case abi::Preallocation::metadata:
            break;
    }
    return Status::invalid_option;
}

Status plan_subformat(uint32_t subformat, CreatePlan& plan) {
    switch (static_cast<abi::VmdkSubformat>(subformat)) {
        case abi::VmdkSubformat::monolithic_sparse:
            plan.stream = false;
            plan.create_type = "monolithicSparse";
            return kOk;
        case abi::VmdkSubformat::stream_optimized:
            plan.stream = true;
            plan.create_type = "streamOptimized";
            return kOk;
        case abi::VmdkSubformat::monolithic_flat:
        case abi::VmdkSubformat::two_gb_max_extent_sparse:
        case abi::VmdkSubformat::two_gb_max_extent_flat:
            // These write extent files next to the image: one output device
            // is not enough.
            return Status::format_unsupported;
    }
    return Status::invalid_option;
}

// What each adapter type writes into the descriptor, indexed by
// abi::VmdkAdapter: its name, and the geometry's heads (qemu: 16 for IDE,
// 255 for the SCSI adapters).
struct AdapterDesc {
    const char* name;
    uint32_t heads;
};
constexpr AdapterDesc kAdapters[] = {
    {"ide", kGeometryHeadsIde},
    {"buslogic", kGeometryHeadsScsi},
    {"lsilogic", kGeometryHeadsScsi},
    {"legacyESX", kGeometryHeadsScsi},
};
static_assert(sizeof kAdapters / sizeof kAdapters[0] == uint32_t(abi::VmdkAdapter::legacy_esx) + 1);

Status plan_adapter(uint32_t adapter, CreatePlan& plan) {
    if (adapter >= sizeof kAdapters / sizeof kAdapters[0]) return Status::invalid_option;
    plan.adapter_type = kAdapters[adapter].name;
    plan.heads = kAdapters[adapter].heads;
    return kOk;
}

Status plan_versions(const CreateRequest& r, CreatePlan& plan) {
    size_t hw_len = 0;
    size_t tools_len = 0;
    if (!bounded_length(r.vmdk_hwversion, sizeof(r.vmdk_hwversion), hw_len) ||
        !bounded_length(r.vmdk_toolsversion, sizeof(r.vmdk_toolsversion), tools_len)) {
        return Status::invalid_option;
    }
    const bool compat6 = (r.flags & abi::kCreateCompat6) != 0;
    if (compat6 && hw_len != 0) return Status::invalid_option;  // qemu: "compat6 cannot be enabled with hwversion set"
    plan.hw_version = hw_len != 0 ? r.vmdk_hwversion : compat6 ? kCompat6HwVersion : kDefaultHwVersion;
    plan.tools_version = tools_len != 0 ? r.vmdk_toolsversion : kDefaultToolsVersion;
    return kOk;
}

Status plan_names(const EmitInput& in, CreatePlan& plan) {
    const CreateRequest& r = *in.request;
    size_t name_len = 0;
    if (!bounded_length(r.image_name, sizeof(r.image_name), name_len) || name_len == 0) {
        return Status::invalid_option;
    }
    for (size_t i = 0; i < name_len; ++i) {
        if (r.image_name[i] == '/') return Status::invalid_option;  // must be a base name
    }
    plan.image_name = r.image_name;

    // qemu refuses any backing format but vmdk, even with no backing file.
    const auto backing_format = static_cast<abi::Format>(r.backing_format);
    if (backing_format != abi::Format::none && backing_format != abi::Format::vmdk) {
        return Status::backing_format_unsupported;
    }

    size_t backing_len = 0;
    if (!bounded_length(r.backing_file, sizeof(r.backing_file), backing_len)) {
        return Status::backing_path_too_long;
    }
    const bool has_backing = (r.flags & abi::kCreateHasBacking) != 0;
    if (has_backing != (backing_len != 0)) return Status::invalid_option;
    if (!has_backing) {
        if (in.has_parent_cid || (r.flags & abi::kCreateBackingAttached) != 0) return Status::invalid_option;
        plan.parent_hint = nullptr;
        plan.parent_cid = kNoParentCid;
        return kOk;
    }
    // qemu opens the backing file to copy its CID and refuses a parent
    // that is not a vmdk image (one without a CID).
    if (!in.has_parent_cid) return Status::backing_format_unsupported;
    plan.parent_hint = r.backing_file;
    plan.parent_cid = in.parent_cid;
    return kOk;
}

Status plan_size(const EmitInput& in, CreatePlan& plan) {
    const CreateRequest& r = *in.request;
    if ((r.flags & abi::kCreateHasSize) != 0) {
        if (in.virtual_size != r.size) return Status::invalid_option;
    } else if ((r.flags & abi::kCreateHasBacking) == 0) {
        return Status::invalid_option;  // no size and nothing to inherit it from
    }
    if (in.virtual_size > uint64_t(INT64_MAX)) return Status::size_out_of_range;
    // qemu rounds the size up to whole sectors.
    const uint64_t sectors = in.virtual_size / kSectorSize + (in.virtual_size % kSectorSize != 0);
    plan.size_bytes = sectors * kSectorSize;
    if (!compute_sparse_layout(sectors, plan.grain_bytes / kSectorSize, plan.layout)) {
        return Status::size_out_of_range;
    }
    return kOk;
}

}  // namespace

Status plan_vmdk_create(const EmitInput& in, CreatePlan& plan) {
    if (in.request == nullptr) return Status::invalid_option;
    const CreateRequest& r = *in.request;
    if (r.format != uint32_t(abi::Format::vmdk)) return Status::invalid_option;
    if ((r.flags & ~kVmdkFlags) != 0) return Status::invalid_option;

    Status s = check_preallocation(r.preallocation);
    if (s == kOk) s = plan_subformat(r.vmdk_subformat, plan);
    if (s == kOk) s = plan_adapter(r.vmdk_adapter, plan);
    if (s == kOk) s = plan_versions(r, plan);
    if (s != kOk) return s;

    // qemu 7.2 always uses 64 KiB grains; smaller ones are instar's.
    if (!is_power_of_two(r.grain_size) || r.grain_size < kMinGrainBytes || r.grain_size > kMaxGrainBytes) {
        return Status::invalid_option;
    }
    plan.grain_bytes = r.grain_size;
    plan.zeroed_grain = (r.flags & abi::kCreateZeroedGrain) != 0;

    s = plan_names(in, plan);
    if (s == kOk) s = plan_size(in, plan);
    if (s != kOk) return s;

    plan.cid = load_le32(r.entropy + kCidEntropyOffset);
    return kOk;
}

}  // namespace instar::formats::vmdk
