#include "formats/qcow2/qcow2_info.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_bitmaps_info.h"
#include "formats/qcow2/qcow2_info_strings.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_luks_info.h"
#include "formats/qcow2/qcow2_open.h"
#include "formats/qcow2/qcow2_snapshot_table.h"
#include "formats/qcow2/qcow2_window.h"

namespace instar::formats {
namespace {

using namespace qcow2;

struct Extensions {
    uint8_t backing_format[kBackingFormatMax];
    size_t backing_format_len = 0;
    bool has_data_file = false;
    bool data_file_too_long = false;
    bool has_bitmaps = false;
    BitmapDirectory bitmaps{};
    bool has_luks = false;  // the LUKS header, read: out.qcow2.luks
};

// qcow2_read_extensions: every extension must end before the backing file
// name (or the end of the first cluster); unknown ones are skipped.
Status read_extensions(const Header& h, ImageSource& src, WindowReader& r, abi::InfoResult& out, Extensions& ext) {
    const uint64_t end = extensions_end(h);
    uint64_t offset = h.header_length;
    // Each step moves on by at least 8 bytes within the first cluster.
    while (offset < end) {
        uint8_t eh[kExtHeaderBytes];
        if (!r.read(offset, eh, sizeof(eh))) return Status::read_failed;
        const uint32_t type = load_be32(eh);
        const uint32_t len = load_be32(eh + 4);
        offset += kExtHeaderBytes;
        if (offset > end || len > end - offset) return Status::image_invalid;

        switch (type) {
        case kExtEnd:
            return kOk;
        case kExtBackingFormat: {
            if (len > kBackingFormatMax) return Status::image_invalid;
            uint8_t fmt[kBackingFormatMax];
            if (!r.read(offset, fmt, len)) return Status::read_failed;
            ext.backing_format_len = until_nul(fmt, len);
            __builtin_memcpy(ext.backing_format, fmt, ext.backing_format_len);
            break;
        }
        case kExtCryptoHeader: {
            if (h.crypt_method != kCryptLuks || len != kCryptoHeaderExtBytes) return Status::image_invalid;
            uint8_t ch[kCryptoHeaderExtBytes];
            if (!r.read(offset, ch, sizeof(ch))) return Status::read_failed;
            const uint64_t luks_offset = load_be64(ch + kCryptoExtOffset);
            if (luks_offset & (h.cluster_size - 1)) return Status::image_invalid;
            // qemu opens the LUKS header right here, each time the
            // extension appears; the last one stays.
            const Status st = read_luks_info(src, luks_offset, load_be64(ch + kCryptoExtLength), out.qcow2.luks);
            if (st != kOk) return st;
            ext.has_luks = true;
            break;
        }
        case kExtBitmaps: {
            if (len != kBitmapsExtBytes) return Status::image_invalid;
            // Without the autoclear bit a program unaware of bitmaps wrote
            // the image last: qemu ignores them (with a warning).
            if (!(h.autoclear_features & kAutoclearBitmaps)) break;
            uint8_t bm[kBitmapsExtBytes];
            if (!r.read(offset, bm, sizeof(bm))) return Status::read_failed;
            BitmapDirectory& dir = ext.bitmaps;
            dir.count = load_be32(bm + kBitmapsExtCount);
            dir.size = load_be64(bm + kBitmapsExtDirSize);
            dir.offset = load_be64(bm + kBitmapsExtDirOffset);
            if (load_be32(bm + kBitmapsExtReserved) != 0) return Status::image_invalid;
            if (dir.count == 0 || dir.count > kMaxBitmaps) return Status::image_invalid;
            if (dir.offset & (h.cluster_size - 1)) return Status::image_invalid;
            if (dir.size > kMaxBitmapDirectorySize) return Status::image_invalid;
            ext.has_bitmaps = true;
            break;
        }
        case kExtDataFile: {
            // Only the name's first kInfoPathMax + 1 bytes decide what we
            // report: the name itself, or that it is too long.
            uint8_t name[abi::kInfoPathMax + 1];
            const size_t n = len < sizeof(name) ? len : sizeof(name);
            if (!r.read(offset, name, n)) return Status::read_failed;
            const size_t shown = until_nul(name, n);
            ext.has_data_file = true;
            ext.data_file_too_long = shown > abi::kInfoPathMax;
            if (!ext.data_file_too_long) set_string(out.qcow2.data_file, name, shown);
            break;
        }
        default:  // the feature-name table and extensions qemu does not know
            break;
        }
        offset += (uint64_t(len) + kExtAlign - 1) & ~uint64_t(kExtAlign - 1);
    }
    return kOk;
}

// qcow2_read_snapshots, then what qemu-img shows of each entry; with an
// external data file qemu reads the table but lists no snapshots (every
// snapshot operation is unsupported then).
Status read_snapshots(const Header& h, WindowReader& r, bool listed, RecordSink& records, abi::InfoResult& out,
                      bool& unsupported) {
    static_assert(kMaxSnapshots <= abi::kInfoMaxSnapshots, "every snapshot qemu opens can be listed");
    SnapshotCursor cursor(h, r);
    for (uint32_t i = 0;; ++i) {
        SnapshotEntry e;
        bool more = false;
        const Status st = cursor.next(e, more);
        if (st != kOk) return st;
        if (!more) break;
        if (!listed) continue;
        abi::InfoSnapshot s{};
        const size_t id_len = until_nul(e.id, e.id_kept < kSnapshotIdShownMax ? e.id_kept : kSnapshotIdShownMax);
        if (!set_string(s.id, e.id, id_len)) unsupported = true;
        const size_t name_len =
            until_nul(e.name, e.name_kept < kSnapshotNameShownMax ? e.name_kept : kSnapshotNameShownMax);
        set_string(s.name, e.name, name_len);  // fits: kInfoNameMax > kSnapshotNameShownMax
        s.vm_state_size = e.extra_size >= kSnapExtraVmStateSize + 8 ? load_be64(e.extra + kSnapExtraVmStateSize)
                                                                    : load_be32(e.fixed + kSnapVmStateSize);
        s.date_sec = load_be32(e.fixed + kSnapDateSec);
        s.date_nsec = load_be32(e.fixed + kSnapDateNsec);
        s.vm_clock_nsec = load_be64(e.fixed + kSnapVmClockNsec);
        // qemu stores "no icount" as all ones and shows neither.
        s.icount = e.extra_size >= kSnapExtraIcount + 8 ? load_be64(e.extra + kSnapExtraIcount) : UINT64_MAX;
        s.has_icount = s.icount != UINT64_MAX;
        records.add(abi::InfoRecord::snapshot, s);
        out.snapshot_count = i + 1;
    }
    return kOk;
}

}  // namespace

Status qcow2_read_info(ImageSource& src, Arena& arena, RecordSink& records, abi::InfoResult& out) {
    static_assert(abi::kInfoNameMax >= kSnapshotNameShownMax, "a shown snapshot name always fits");
    static_assert(abi::kInfoPathMax >= kBackingNameMax, "a backing file name always fits");
    static_assert(abi::kInfoShortMax >= kBackingFormatMax, "a backing format always fits");
    __builtin_memset(&out, 0, sizeof(out));

    Header h;
    Status st = read_header(src, h);
    if (st != kOk) return st;

    auto* window = static_cast<uint8_t*>(arena.alloc(WindowReader::kWindowBytes, 4096, false));
    if (!window) return Status::out_of_memory;
    WindowReader r(src, window);

    Extensions ext;
    st = read_extensions(h, src, r, out, ext);
    if (st != kOk) return st;

    // Where qemu refuses nothing but the result cannot say what it shows,
    // the image is refused only after every check that could find it
    // damaged.
    bool unsupported = false;
    const bool data_file_bit = (h.incompatible_features & kIncompatDataFile) != 0;
    if (ext.has_data_file != data_file_bit || ext.data_file_too_long) unsupported = true;

    if (h.backing_file_offset != 0) {
        uint8_t name[kBackingNameMax];
        if (!r.read(h.backing_file_offset, name, h.backing_file_size)) return Status::read_failed;
        const size_t len = until_nul(name, h.backing_file_size);
        if (len > 0) {
            set_string(out.backing_file, name, len);
            out.flags |= abi::kInfoHasBacking;
            if (ext.backing_format_len > 0) {
                set_string(out.backing_format, ext.backing_format, ext.backing_format_len);
                out.flags |= abi::kInfoHasBackingFormat;
            }
        }
    }

    st = read_snapshots(h, r, !data_file_bit, records, out, unsupported);
    if (st != kOk) return st;
    // qemu-img 7.2 crashes on a LUKS image without its LUKS header (it
    // opens it without a decryption context, then uses one).
    if (h.crypt_method == kCryptLuks && !ext.has_luks) return Status::image_invalid;
    // qemu loads the bitmaps while it opens the image, and lists them
    // again for `info`.
    if (ext.has_bitmaps) {
        st = read_bitmaps_info(src, arena, ext.bitmaps, h.cluster_size, h.size & ~(kSectorSize - 1), records);
        if (st != kOk) return st;
    }
    if (unsupported) return Status::unsupported_feature;

    out.format = static_cast<uint32_t>(abi::Format::qcow2);
    out.virtual_size = h.size & ~(kSectorSize - 1);
    out.cluster_size = h.cluster_size;
    out.flags |= abi::kInfoHasClusterSize;
    if (h.crypt_method != kCryptNone) out.flags |= abi::kInfoEncrypted;
    // out.qcow2.luks was filled while the extensions were read.
    if (h.crypt_method == kCryptAes) out.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes);
    if (h.crypt_method == kCryptLuks) out.qcow2.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::luks);
    if (h.incompatible_features & kIncompatDirty) out.flags |= abi::kInfoDirty;

    abi::InfoQcow2& q = out.qcow2;
    q.version = h.version;
    q.compression_type = static_cast<uint32_t>(h.compression_type == kCompressionZstd ? abi::Qcow2Compression::zstd
                                                                                      : abi::Qcow2Compression::zlib);
    q.refcount_bits = uint32_t(1) << h.refcount_order;
    if (h.compatible_features & kCompatLazyRefcounts) q.flags |= abi::kQcow2LazyRefcounts;
    if (h.incompatible_features & kIncompatCorrupt) q.flags |= abi::kQcow2Corrupt;
    if (h.incompatible_features & kIncompatExtendedL2) q.flags |= abi::kQcow2ExtendedL2;
    if (data_file_bit) {
        q.flags |= abi::kQcow2HasDataFile;
        if (h.autoclear_features & kAutoclearDataFileRaw) q.flags |= abi::kQcow2DataFileRaw;
    }
    if (ext.has_bitmaps) {
        q.flags |= abi::kQcow2HasBitmaps;
        q.bitmap_count = ext.bitmaps.count;
    }
    return kOk;
}

}  // namespace instar::formats
