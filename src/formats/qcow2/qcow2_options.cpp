#include "formats/qcow2/qcow2_options.h"

#include "abi/format.h"
#include "formats/common/bits.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

constexpr uint32_t kQcow2Flags = abi::kCreateHasSize | abi::kCreateHasBacking | abi::kCreateBackingAttached |
                                 abi::kCreateLazyRefcounts | abi::kCreateExtendedL2;

uint32_t log2_exact(uint64_t v) {
    uint32_t bits = 0;
    while ((v >> bits) != 1) ++bits;
    return bits;
}

// Length of a NUL-terminated string inside a fixed buffer; `cap` when the
// buffer holds no NUL (a malformed request).
size_t bounded_strlen(const char* s, size_t cap) {
    size_t n = 0;
    while (n < cap && s[n] != '\0') ++n;
    return n;
}

}  // namespace

Status parse_create_request(const abi::CreateRequest& req, uint64_t virtual_size, CreateParams& out) {
    if (req.format != static_cast<uint32_t>(abi::Format::qcow2)) return Status::invalid_option;
    // Flags of other formats stand for options qemu's qcow2 driver rejects.
    if ((req.flags & ~kQcow2Flags) != 0) return Status::invalid_option;
    const bool has_backing = (req.flags & abi::kCreateHasBacking) != 0;
    if ((req.flags & abi::kCreateHasSize) == 0 && !has_backing) return Status::invalid_option;
    if ((req.flags & abi::kCreateBackingAttached) != 0 && !has_backing) return Status::invalid_option;

    if (req.qcow2_version != 2 && req.qcow2_version != 3) return Status::invalid_option;
    const bool v3 = req.qcow2_version == 3;
    out.version = req.qcow2_version;

    out.extended_l2 = (req.flags & abi::kCreateExtendedL2) != 0;
    if (out.extended_l2 && !v3) return Status::invalid_option;

    if (!is_power_of_two(req.cluster_size)) return Status::invalid_option;
    out.cluster_bits = log2_exact(req.cluster_size);
    if (out.cluster_bits < kMinClusterBits || out.cluster_bits > kMaxClusterBits) return Status::invalid_option;
    if (out.extended_l2 && out.cluster_bits < kMinExtendedL2ClusterBits) return Status::invalid_option;

    if (req.preallocation > static_cast<uint32_t>(abi::Preallocation::full)) return Status::invalid_option;
    out.prealloc = static_cast<abi::Preallocation>(req.preallocation);
    // Without subclusters a preallocated cluster would hide the backing data.
    if (has_backing && out.prealloc != abi::Preallocation::off && !out.extended_l2) return Status::invalid_option;

    if (req.backing_format > static_cast<uint32_t>(abi::Format::vhdx)) return Status::invalid_option;
    const bool has_backing_format = req.backing_format != static_cast<uint32_t>(abi::Format::none);
    if (has_backing_format && !has_backing) return Status::invalid_option;

    out.lazy_refcounts = (req.flags & abi::kCreateLazyRefcounts) != 0;
    if (out.lazy_refcounts && !v3) return Status::invalid_option;

    if (req.refcount_bits > 64 || !is_power_of_two(req.refcount_bits)) return Status::invalid_option;
    if (!v3 && req.refcount_bits != 16) return Status::invalid_option;
    out.refcount_order = log2_exact(req.refcount_bits);

    if (req.compression_type > static_cast<uint32_t>(abi::Qcow2Compression::zstd)) return Status::invalid_option;
    out.zstd = req.compression_type == static_cast<uint32_t>(abi::Qcow2Compression::zstd);
    if (out.zstd && !v3) return Status::invalid_option;

    out.backing_file = nullptr;
    out.backing_file_len = 0;
    out.backing_format = nullptr;
    out.backing_format_len = 0;
    if (has_backing) {
        const size_t len = bounded_strlen(req.backing_file, sizeof(req.backing_file));
        if (len == sizeof(req.backing_file)) return Status::invalid_option;
        if (len == 0) return Status::invalid_option;
        if (len > kBackingNameMax) return Status::backing_path_too_long;
        out.backing_file = req.backing_file;
        out.backing_file_len = len;
        if (has_backing_format) {
            // qemu records the driver name (BlockdevDriver_str) in the extension.
            out.backing_format = abi::format_name(abi::Format(req.backing_format));
            size_t n = 0;
            while (out.backing_format[n] != '\0') ++n;
            out.backing_format_len = n;
        }
    }

    // qemu silently rounds the size up to whole sectors; sizes it cannot
    // represent as a signed 64-bit byte count it refuses.
    constexpr uint64_t kMaxSize = kInt64Max & ~(kSectorSize - 1);
    if (virtual_size > kMaxSize) return Status::size_out_of_range;
    out.size = (virtual_size + kSectorSize - 1) & ~(kSectorSize - 1);
    return kOk;
}

}  // namespace instar::formats::qcow2
