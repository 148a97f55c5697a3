#include "vmdk_info.h"

#include "vmdk_layout.h"
#include "vmdk_sparse_open.h"

namespace instar::formats {

namespace {

using namespace vmdk;

template <uint32_t N>
bool set_string(abi::InfoString<N>& s, const char* p, size_t len) {
    if (len > N) return false;
    __builtin_memcpy(s.bytes, p, len);
    s.length = uint32_t(len);
    return true;
}

template <uint32_t N, size_t M>
void set_literal(abi::InfoString<N>& s, const char (&text)[M]) {
    static_assert(M - 1 <= N, "literal longer than its field");
    set_string(s, text, M - 1);
}

}  // namespace

Status vmdk_read_info(ImageSource& src, Arena& arena, abi::InfoResult& out) {
    __builtin_memset(&out, 0, sizeof(out));
    OpenedSparse opened;
    const Status s = open_sparse_file(src, arena, opened);
    if (s != kOk) return s;
    const SparseHeader& h = opened.header;

    // open_sparse_file bounds both: capacity by qemu's length limit, the
    // grain by kMaxGrainSectors.
    const uint64_t virtual_size = h.capacity * kSectorSize;
    const uint64_t grain_bytes = h.granularity * kSectorSize;
    const bool compressed = h.compress_algorithm == kCompressionDeflate;

    out.format = uint32_t(abi::BackingFormat::vmdk);
    out.virtual_size = virtual_size;
    out.cluster_size = grain_bytes;
    out.flags = abi::kInfoHasClusterSize;

    if (opened.parent_hint != nullptr) {
        if (!set_string(out.backing_file, opened.parent_hint, opened.parent_hint_len)) {
            return Status::unsupported_feature;
        }
        set_literal(out.backing_format, "vmdk");
        out.flags |= abi::kInfoHasBacking | abi::kInfoHasBackingFormat;
    }

    abi::InfoVmdk& v = out.vmdk;
    v.cid = opened.cid;
    v.parent_cid = opened.parent_cid;
    if (compressed) {
        set_literal(v.create_type, "streamOptimized");
    } else {
        set_literal(v.create_type, "monolithicSparse");
    }
    v.extent_count = 1;
    abi::InfoVmdkExtent& e = v.extents[0];
    e.virtual_size = virtual_size;
    e.cluster_size = grain_bytes;
    e.flags = abi::kVmdkExtentHasClusterSize | (compressed ? abi::kVmdkExtentCompressed : 0u);
    return kOk;
}

}  // namespace instar::formats
