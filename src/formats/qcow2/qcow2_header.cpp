#include "formats/qcow2/qcow2_header.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

struct FeatureName {
    uint8_t type;
    uint8_t bit;
    const char* name;
};

// The table qemu 7.2 writes, in its order.
constexpr FeatureName kFeatureNames[] = {
    {kFeatureIncompatible, 0, "dirty bit"},
    {kFeatureIncompatible, 1, "corrupt bit"},
    {kFeatureIncompatible, 2, "external data file"},
    {kFeatureIncompatible, 3, "compression type"},
    {kFeatureIncompatible, 4, "extended L2 entries"},
    {kFeatureCompatible, 0, "lazy refcounts"},
    {kFeatureAutoclear, 0, "bitmaps"},
    {kFeatureAutoclear, 1, "raw external data"},
};
constexpr size_t kFeatureCount = sizeof(kFeatureNames) / sizeof(kFeatureNames[0]);

size_t padded(size_t len) { return (len + kExtAlign - 1) & ~(kExtAlign - 1); }

size_t fixed_header_bytes(const CreateParams& p) { return p.version >= 3 ? kHeaderV3Length : kHeaderV2Length; }

bool has_feature_table(const CreateParams& p) {
    return p.version >= 3 && (uint64_t(1) << p.cluster_bits) > kFeatureTableOmittedUpTo;
}

// Offset of the backing file name: after every extension and the end marker.
size_t backing_name_offset(const CreateParams& p) {
    size_t off = fixed_header_bytes(p);
    if (p.backing_format) off += kExtHeaderBytes + padded(p.backing_format_len);
    if (has_feature_table(p)) off += kExtHeaderBytes + kFeatureCount * kFeatureEntryBytes;
    return off + kExtHeaderBytes;
}

size_t write_extension_header(uint8_t* buf, uint32_t type, uint32_t len) {
    store_be32(buf, type);
    store_be32(buf + 4, len);
    return kExtHeaderBytes;
}

}  // namespace

size_t header_used_bytes(const CreateParams& p) { return backing_name_offset(p) + p.backing_file_len; }

bool header_fits(const CreateParams& p) { return header_used_bytes(p) <= (size_t(1) << p.cluster_bits); }

void render_header(const CreateParams& p, const HeaderFields& f, uint8_t* buf) {
    __builtin_memset(buf, 0, header_used_bytes(p));
    store_be32(buf + kHdrMagic, kMagic);
    store_be32(buf + kHdrVersion, p.version);
    store_be32(buf + kHdrClusterBits, p.cluster_bits);
    store_be64(buf + kHdrSize, p.size);
    store_be32(buf + kHdrL1Size, uint32_t(f.l1_size));
    store_be64(buf + kHdrL1TableOffset, f.l1_offset);
    store_be64(buf + kHdrRefcountTableOffset, f.refcount_table_offset);
    store_be32(buf + kHdrRefcountTableClusters, uint32_t(f.refcount_table_clusters));
    if (p.version >= 3) {
        uint64_t incompatible = 0;
        if (p.zstd) incompatible |= kIncompatCompression;
        if (p.extended_l2) incompatible |= kIncompatExtendedL2;
        store_be64(buf + kHdrIncompatibleFeatures, incompatible);
        store_be64(buf + kHdrCompatibleFeatures, p.lazy_refcounts ? kCompatLazyRefcounts : 0);
        store_be32(buf + kHdrRefcountOrder, p.refcount_order);
        store_be32(buf + kHdrHeaderLength, uint32_t(kHeaderV3Length));
        buf[kHdrCompressionType] = p.zstd ? kCompressionZstd : kCompressionZlib;
    }

    size_t off = fixed_header_bytes(p);
    if (p.backing_format) {
        off += write_extension_header(buf + off, kExtBackingFormat, uint32_t(p.backing_format_len));
        __builtin_memcpy(buf + off, p.backing_format, p.backing_format_len);
        off += padded(p.backing_format_len);
    }
    if (has_feature_table(p)) {
        off += write_extension_header(buf + off, kExtFeatureTable, uint32_t(kFeatureCount * kFeatureEntryBytes));
        for (const FeatureName& fn : kFeatureNames) {
            buf[off] = fn.type;
            buf[off + 1] = fn.bit;
            for (size_t i = 0; fn.name[i] != '\0' && i < kFeatureNameBytes; ++i) buf[off + 2 + i] = uint8_t(fn.name[i]);
            off += kFeatureEntryBytes;
        }
    }
    off += write_extension_header(buf + off, kExtEnd, 0);

    if (p.backing_file) {
        __builtin_memcpy(buf + off, p.backing_file, p.backing_file_len);
        store_be64(buf + kHdrBackingFileOffset, off);
        store_be32(buf + kHdrBackingFileSize, uint32_t(p.backing_file_len));
    }
}

}  // namespace instar::formats::qcow2
