#include "formats/vmdk/vmdk_header.h"

#include "formats/common/endian.h"
#include "formats/vmdk/vmdk_layout.h"

namespace instar::formats::vmdk {

void encode_sparse_header(uint8_t* p, const SparseHeader& h) {
    for (size_t i = 0; i < kMagicBytes; ++i) p[i] = kSparseMagic[i];
    store_le32(p + kHdrVersion, h.version);
    store_le32(p + kHdrFlags, h.flags);
    store_le64(p + kHdrCapacity, h.capacity);
    store_le64(p + kHdrGranularity, h.granularity);
    store_le64(p + kHdrDescOffset, h.desc_offset);
    store_le64(p + kHdrDescSize, h.desc_size);
    store_le32(p + kHdrGtesPerGt, h.gtes_per_gt);
    store_le64(p + kHdrRgdOffset, h.rgd_offset);
    store_le64(p + kHdrGdOffset, h.gd_offset);
    store_le64(p + kHdrGrainOffset, h.grain_offset);
    for (size_t i = 0; i < sizeof(kCheckBytes); ++i) p[kHdrCheckBytes + i] = kCheckBytes[i];
    store_le16(p + kHdrCompressAlgorithm, h.compress_algorithm);
}

void decode_sparse_header(const uint8_t* p, SparseHeader& h) {
    h.version = load_le32(p + kHdrVersion);
    h.flags = load_le32(p + kHdrFlags);
    h.capacity = load_le64(p + kHdrCapacity);
    h.granularity = load_le64(p + kHdrGranularity);
    h.desc_offset = load_le64(p + kHdrDescOffset);
    h.desc_size = load_le64(p + kHdrDescSize);
    h.gtes_per_gt = load_le32(p + kHdrGtesPerGt);
    h.rgd_offset = load_le64(p + kHdrRgdOffset);
    h.gd_offset = load_le64(p + kHdrGdOffset);
    h.grain_offset = load_le64(p + kHdrGrainOffset);
    h.compress_algorithm = load_le16(p + kHdrCompressAlgorithm);
}

bool has_sparse_magic(const uint8_t* p) {
    for (size_t i = 0; i < kMagicBytes; ++i) {
        if (p[i] != kSparseMagic[i]) return false;
    }
    return true;
}

bool has_cowd_magic(const uint8_t* p) {
    for (size_t i = 0; i < kMagicBytes; ++i) {
        if (p[i] != kCowdMagic[i]) return false;
    }
    return true;
}

}  // namespace instar::formats::vmdk
