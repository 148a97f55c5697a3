#include "image/info_validate.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "abi/ops/create.h"
#include "formats/common/bits.h"
#include "host/error.h"

namespace instar::image {
namespace {
using formats::is_power_of_two;

using abi::Format;

constexpr uint64_t kInt64Max = uint64_t(std::numeric_limits<int64_t>::max());

constexpr uint32_t kKnownInfoFlags = abi::kInfoHasClusterSize | abi::kInfoEncrypted | abi::kInfoDirty |
                                     abi::kInfoHasBacking | abi::kInfoHasBackingFormat |
                                     abi::kInfoFormatUnknownAsRaw | abi::kInfoHasPartitionTable;
constexpr uint32_t kKnownQcow2Flags = abi::kQcow2LazyRefcounts | abi::kQcow2Corrupt | abi::kQcow2ExtendedL2 |
                                      abi::kQcow2HasDataFile | abi::kQcow2DataFileRaw | abi::kQcow2HasBitmaps;
constexpr uint32_t kKnownExtentFlags = abi::kVmdkExtentCompressed | abi::kVmdkExtentHasClusterSize;

[[noreturn]] void refuse(const std::string& what) { throw Error("invalid info result from the guest: " + what); }

template <uint32_t N>
void check_length(const abi::InfoString<N>& s, const char* what) {
    if (s.length > N)
        refuse(std::string(what) + " is " + std::to_string(s.length) + " bytes long (at most " + std::to_string(N) +
               ")");
}

template <typename T>
bool all_zero(const T& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    return std::all_of(p, p + sizeof(T), [](unsigned char c) { return c == 0; });
}

// What each format's driver in qemu 7.2 accepts as its unit of allocation.
void check_cluster_size(Format format, uint64_t size, const char* what) {
    bool ok = false;
    switch (format) {
    case Format::qcow2:  // cluster_bits 9..21
        ok = is_power_of_two(size) && size >= 512 && size <= (2u << 20);
        break;
    case Format::vmdk:  // grain in sectors, at most 0x200000, any multiple
        ok = size >= 512 && size % 512 == 0 && size <= (uint64_t(0x200000) * 512);
        break;
    case Format::vpc:  // dynamic header block size, 32 bits
        ok = is_power_of_two(size) && size >= 512 && size <= (uint64_t(1) << 31);
        break;
    case Format::vhdx:  // 1 MiB .. 256 MiB
        ok = is_power_of_two(size) && size >= (1u << 20) && size <= (256u << 20);
        break;
    default:
        break;
    }
    if (!ok)
        refuse(std::string(what) + " " + std::to_string(size) + " is not one " + info_format_name(uint32_t(format)) +
               " allows");
}

void check_qcow2_encryption(const abi::InfoResult& r);

void check_qcow2(const abi::InfoResult& r) {
    const abi::InfoQcow2& q = r.qcow2;
    if (q.version != 2 && q.version != 3) refuse("qcow2 version " + std::to_string(q.version));
    if (q.flags & ~kKnownQcow2Flags) refuse("unknown qcow2 flags " + std::to_string(q.flags & ~kKnownQcow2Flags));
    if (q.compression_type != uint32_t(abi::Qcow2Compression::zlib) &&
        q.compression_type != uint32_t(abi::Qcow2Compression::zstd))
        refuse("qcow2 compression type " + std::to_string(q.compression_type));
    if (!is_power_of_two(q.refcount_bits) || q.refcount_bits > 64)
        refuse("qcow2 refcount bits " + std::to_string(q.refcount_bits));
    check_length(q.data_file, "qcow2 data file name");
    if (!(r.flags & abi::kInfoHasClusterSize)) refuse("qcow2 without a cluster size");
    if (q.reserved != 0) refuse("qcow2 reserved field set");
    if (q.bitmap_count > abi::kInfoMaxBitmaps)
        refuse("qcow2 bitmap count " + std::to_string(q.bitmap_count) + " (at most " +
               std::to_string(abi::kInfoMaxBitmaps) + ")");
    if (((q.flags & abi::kQcow2HasBitmaps) != 0) != (q.bitmap_count != 0))
        refuse("qcow2 bitmap count disagrees with its flag");
    check_qcow2_encryption(r);
    if (q.version == 2) {
        // Version 2 has no feature bits, a fixed refcount width and no
        // header extensions for these.
        if (q.refcount_bits != 16) refuse("qcow2 version 2 with refcount bits " + std::to_string(q.refcount_bits));
        if (q.compression_type != uint32_t(abi::Qcow2Compression::zlib)) refuse("qcow2 version 2 with zstd");
        if (q.flags != 0) refuse("qcow2 version 2 with version 3 features");
        if (q.data_file.length != 0) refuse("qcow2 version 2 with a data file");
        if (r.flags & abi::kInfoDirty) refuse("qcow2 version 2 marked dirty");
    }
    // qemu shows the name the extension holds, even an empty one, exactly
    // when the image has an external data file.
    if (!(q.flags & abi::kQcow2HasDataFile) && q.data_file.length != 0)
        refuse("qcow2 data file name without an external data file");
    if ((q.flags & abi::kQcow2DataFileRaw) && !(q.flags & abi::kQcow2HasDataFile))
        refuse("qcow2 data-file-raw without an external data file");
    // Subclusters are cluster_size / 32 and at least 512 bytes.
    if ((q.flags & abi::kQcow2ExtendedL2) && r.cluster_size < 16384)
        refuse("qcow2 extended L2 with clusters below 16 KiB");
}

template <size_t N>
bool listed_in(const std::string& v, const char* const (&names)[N]) {
    return std::find(std::begin(names), std::end(names), v) != std::end(names);
}

// A name as qemu's sscanf reads it from an extent line.
template <uint32_t N>
void check_extent_name(const abi::InfoString<N>& s, const std::string& which) {
    check_length(s, (which + " file name").c_str());
    if (s.length > abi::kInfoExtentNameLongest)
        refuse(which + " file name is longer than " + std::to_string(abi::kInfoExtentNameLongest) + " bytes");
    for (uint32_t i = 0; i < s.length; ++i) {
        char c = s.bytes[i];
        if (c == '\0' || c == '\n' || c == '\r' || c == '"')
            refuse(which + " file name has a byte no extent line can hold");
    }
}

void check_vmdk(const abi::InfoResult& r) {
    const abi::InfoVmdk& v = r.vmdk;
    if (v.flags & ~abi::kVmdkMixedExtents) refuse("unknown vmdk flags " + std::to_string(v.flags));
    check_length(v.create_type, "vmdk create type");
    if (v.extent_count == 0 || v.extent_count > abi::kInfoMaxVmdkExtents)
        refuse("vmdk extent count " + std::to_string(v.extent_count) + " (1 to " +
               std::to_string(abi::kInfoMaxVmdkExtents) + ")");
}

void check_snapshot_count(const abi::InfoResult& r) {
    if (r.snapshot_count > abi::kInfoMaxSnapshots)
        refuse("snapshot count " + std::to_string(r.snapshot_count) + " (at most " +
               std::to_string(abi::kInfoMaxSnapshots) + ")");
    if (r.snapshot_count != 0 && r.format != uint32_t(Format::qcow2)) refuse("snapshots outside qcow2");
}

}  // namespace

void validate_info_snapshots(const abi::InfoResult& r, const std::vector<abi::InfoSnapshot>& snapshots) {
    if (snapshots.size() != r.snapshot_count)
        refuse(std::to_string(snapshots.size()) + " snapshot records for a snapshot count of " +
               std::to_string(r.snapshot_count));
    for (size_t i = 0; i < snapshots.size(); ++i) {
        const abi::InfoSnapshot& s = snapshots[i];
        std::string which = "snapshot " + std::to_string(i);
        check_length(s.id, (which + " id").c_str());
        check_length(s.name, (which + " name").c_str());
        if (s.reserved != 0) refuse(which + " reserved field set");
        if (s.has_icount > 1) refuse(which + " has_icount " + std::to_string(s.has_icount));
        // qemu keeps one value: an icount of all ones means none.
        if ((s.has_icount == 1) != (s.icount != UINT64_MAX)) refuse(which + " icount disagrees with has_icount");
    }
}

void validate_info_result(const abi::InfoResult& r) {
    if (r.format < uint32_t(Format::raw) || r.format > uint32_t(Format::vhdx))
        refuse("format " + std::to_string(r.format));
    const auto format = Format(r.format);
    if (r.flags & abi::kInfoNeedsExtentFiles) refuse("a request for extent files where the answer was due");
    if (r.flags & ~kKnownInfoFlags) refuse("unknown flags " + std::to_string(r.flags & ~kKnownInfoFlags));
    if (r.reserved != 0) refuse("reserved field set");
    if (r.virtual_size > kInt64Max) refuse("virtual size " + std::to_string(r.virtual_size));

    if (r.flags & abi::kInfoHasClusterSize) {
        if (format == Format::raw) refuse("raw with a cluster size");
        check_cluster_size(format, r.cluster_size, "cluster size");
    } else if (r.cluster_size != 0) {
        refuse("cluster size without its flag");
    } else if (format == Format::qcow2 || format == Format::vhdx) {
        refuse(std::string(info_format_name(r.format)) + " without a cluster size");
    }

    if ((r.flags & abi::kInfoEncrypted) && format != Format::qcow2) refuse("encryption outside qcow2");
    if ((r.flags & abi::kInfoDirty) && format != Format::qcow2) refuse("dirty flag outside qcow2");
    if ((r.flags & (abi::kInfoFormatUnknownAsRaw | abi::kInfoHasPartitionTable)) && format != Format::raw)
        refuse("raw-only flags on " + std::string(info_format_name(r.format)));

    check_length(r.backing_file, "backing file name");
    check_length(r.backing_format, "backing format");
    if (r.flags & abi::kInfoHasBacking) {
        if (format != Format::qcow2 && format != Format::vmdk)
            refuse("backing file on " + std::string(info_format_name(r.format)));
        if (r.backing_file.length == 0) refuse("backing file flag with an empty name");
    } else {
        if (r.backing_file.length != 0) refuse("backing file name without its flag");
        if (r.flags & abi::kInfoHasBackingFormat) refuse("backing format without a backing file");
    }
    if (r.flags & abi::kInfoHasBackingFormat) {
        if (r.backing_format.length == 0) refuse("backing format flag with an empty name");
    } else if (r.backing_format.length != 0) {
        refuse("backing format without its flag");
    }

    check_snapshot_count(r);

    if (format == Format::qcow2) {
        check_qcow2(r);
    } else if (!all_zero(r.qcow2)) {
        refuse("qcow2 details on " + std::string(info_format_name(r.format)));
    }
    if (format == Format::vmdk) {
        check_vmdk(r);
    } else if (!all_zero(r.vmdk)) {
        refuse("vmdk details on " + std::string(info_format_name(r.format)));
    }
}

void validate_info_vmdk_extents(const abi::InfoResult& r, const std::vector<abi::InfoVmdkExtent>& extents) {
    if (r.format != uint32_t(Format::vmdk)) {
        if (!extents.empty()) refuse("vmdk extents on " + std::string(info_format_name(r.format)));
        return;
    }
    if (extents.size() != r.vmdk.extent_count)
        refuse(std::to_string(extents.size()) + " vmdk extent records for an extent count of " +
               std::to_string(r.vmdk.extent_count));
    const std::string create_type = info_string(r.vmdk.create_type);
    uint64_t total = 0;
    bool any_compressed = false;
    bool one_shape = true;
    for (size_t i = 0; i < extents.size(); ++i) {
        const abi::InfoVmdkExtent& e = extents[i];
        std::string which = "vmdk extent " + std::to_string(i);
        if (e.flags & ~kKnownExtentFlags)
            refuse(which + " has unknown flags " + std::to_string(e.flags & ~kKnownExtentFlags));
        if (e.reserved != 0) refuse(which + " reserved field set");
        check_extent_name(e.filename, which);
        check_length(e.format, (which + " format").c_str());
        if (e.virtual_size > kInt64Max || e.virtual_size % 512 != 0)
            refuse(which + " virtual size " + std::to_string(e.virtual_size));
        if (e.virtual_size > kInt64Max - total) refuse("vmdk extents larger than the disk can be");
        total += e.virtual_size;
        const bool grain = e.flags & abi::kVmdkExtentHasClusterSize;
        if (grain) {
            check_cluster_size(Format::vmdk, e.cluster_size, (which + " cluster size").c_str());
        } else {
            if (e.cluster_size != 0) refuse(which + " cluster size without its flag");
            if (e.flags & abi::kVmdkExtentCompressed) refuse(which + " compressed without grains");
        }
        any_compressed = any_compressed || (e.flags & abi::kVmdkExtentCompressed);

        std::string format(e.format.bytes, e.format.length);
        if (format.empty()) {
            // The sparse image itself: its one and only extent.
            if (e.filename.length != 0) refuse(which + ": a file name without an extent type");
            if (extents.size() != 1) refuse("a sparse image's own extent among others");
            if (!grain) refuse(which + ": a sparse image without grains");
        } else {
            if (e.filename.length == 0) refuse(which + ": an extent type without a file name");
            if (listed_in(format, abi::kVmdkFlatExtentTypes)) {
                if (grain) refuse(which + ": a flat extent with grains");
            } else if (listed_in(format, abi::kVmdkSparseExtentTypes)) {
                if (!grain) refuse(which + ": a sparse extent without grains");
                if (format == "SESPARSE" && (e.cluster_size != 4096 || (e.flags & abi::kVmdkExtentCompressed)))
                    refuse(which + ": an seSparse extent is 4 KiB grains, uncompressed");
            } else {
                refuse(which + " format is not one qemu opens");
            }
        }
        const abi::InfoVmdkExtent& f = extents.front();
        if ((e.flags & abi::kVmdkExtentHasClusterSize) != (f.flags & abi::kVmdkExtentHasClusterSize) ||
            (e.flags & abi::kVmdkExtentCompressed) != (f.flags & abi::kVmdkExtentCompressed) ||
            e.cluster_size != f.cluster_size)
            one_shape = false;
    }
    if (total != r.virtual_size) refuse("vmdk extents do not add up to the virtual size");
    // qemu shows a cluster size when all extents have the same grains.
    const abi::InfoVmdkExtent& f = extents.front();
    if (one_shape == bool(r.vmdk.flags & abi::kVmdkMixedExtents))
        refuse("vmdk extents mixed or not, against their flag");
    const bool shown = one_shape && (f.flags & abi::kVmdkExtentHasClusterSize);
    if (shown != bool(r.flags & abi::kInfoHasClusterSize) || (shown && r.cluster_size != f.cluster_size))
        refuse("vmdk cluster size disagrees with its extents");
    const bool embedded = f.format.length == 0;
    if (any_compressed != (create_type == "streamOptimized"))
        refuse("vmdk create type " + create_type + " disagrees with its extents' compression");
    if (!any_compressed && (embedded ? create_type != "monolithicSparse" : !listed_in(create_type, abi::kVmdkDescriptorFileTypes)))
        refuse("vmdk create type " + create_type + " for its extents");
}

std::vector<std::string> validate_vmdk_extent_files(const abi::InfoResult& r,
                                                    const std::vector<abi::InfoVmdkExtentFile>& files) {
    if (r.format != uint32_t(Format::vmdk) || r.flags != abi::kInfoNeedsExtentFiles)
        refuse("a request for extent files that is not a vmdk descriptor's");
    abi::InfoResult rest = r;
    rest.format = 0;
    rest.flags = 0;
    rest.vmdk.extent_count = 0;
    if (!all_zero(rest)) refuse("a request for extent files with other details");
    const uint32_t count = r.vmdk.extent_count;
    if (count == 0) refuse("a request for no extent files");
    if (count > abi::kInfoMaxVmdkExtents) {
        if (!files.empty()) refuse("extent file names beyond the limit");
        throw Error("the descriptor names " + std::to_string(count) + " extent files, more than instar can attach (" +
                    std::to_string(abi::kInfoMaxVmdkExtents) + ")");
    }
    if (files.size() != count)
        refuse(std::to_string(files.size()) + " extent file names for a count of " + std::to_string(count));
    std::vector<std::string> names;
    for (size_t i = 0; i < files.size(); ++i) {
        std::string which = "extent file " + std::to_string(i);
        check_extent_name(files[i].name, which);
        if (files[i].name.length == 0) refuse(which + " has no name");
        names.emplace_back(files[i].name.bytes, files[i].name.length);
    }
    return names;
}

void validate_vmdk_extent_names(const std::vector<abi::InfoVmdkExtent>& extents,
                                const std::vector<std::string>& names) {
    if (extents.size() != names.size())
        refuse(std::to_string(extents.size()) + " vmdk extents for " + std::to_string(names.size()) + " extent files");
    for (size_t i = 0; i < extents.size(); ++i) {
        // The length is the guest's: checked before any byte is read by it.
        check_extent_name(extents[i].filename, "vmdk extent " + std::to_string(i));
        if (std::string(extents[i].filename.bytes, extents[i].filename.length) != names[i])
            refuse("vmdk extent " + std::to_string(i) + " is not in the file attached for it");
    }
}

namespace {

template <typename E>
struct LuksName {
    E value;
    const char* name;
};

// qemu's names for what a LUKS header can hold (crypto/block-luks.c
// reads no other ciphers, modes, IV generators or hashes).
constexpr LuksName<abi::LuksCipherAlg> kCipherAlgs[] = {
    {abi::LuksCipherAlg::aes_128, "aes-128"},         {abi::LuksCipherAlg::aes_192, "aes-192"},
    {abi::LuksCipherAlg::aes_256, "aes-256"},         {abi::LuksCipherAlg::cast5_128, "cast5-128"},
    {abi::LuksCipherAlg::serpent_128, "serpent-128"}, {abi::LuksCipherAlg::serpent_192, "serpent-192"},
    {abi::LuksCipherAlg::serpent_256, "serpent-256"}, {abi::LuksCipherAlg::twofish_128, "twofish-128"},
    {abi::LuksCipherAlg::twofish_192, "twofish-192"}, {abi::LuksCipherAlg::twofish_256, "twofish-256"}};
constexpr LuksName<abi::LuksCipherMode> kCipherModes[] = {{abi::LuksCipherMode::ecb, "ecb"},
                                                          {abi::LuksCipherMode::cbc, "cbc"},
                                                          {abi::LuksCipherMode::xts, "xts"},
                                                          {abi::LuksCipherMode::ctr, "ctr"}};
constexpr LuksName<abi::LuksIvgenAlg> kIvgenAlgs[] = {
    {abi::LuksIvgenAlg::plain, "plain"}, {abi::LuksIvgenAlg::plain64, "plain64"}, {abi::LuksIvgenAlg::essiv, "essiv"}};
constexpr LuksName<abi::LuksHashAlg> kHashAlgs[] = {
    {abi::LuksHashAlg::md5, "md5"},       {abi::LuksHashAlg::sha1, "sha1"},     {abi::LuksHashAlg::sha224, "sha224"},
    {abi::LuksHashAlg::sha256, "sha256"}, {abi::LuksHashAlg::sha384, "sha384"}, {abi::LuksHashAlg::sha512, "sha512"},
    {abi::LuksHashAlg::ripemd160, "ripemd160"}};

// The name of a value the guest reported, or nullptr for none qemu has.
template <typename E, size_t N>
const char* luks_name(const LuksName<E> (&table)[N], uint32_t value) {
    for (const auto& e : table)
        if (uint32_t(e.value) == value) return e.name;
    return nullptr;
}

template <typename E, size_t N>
bool is_luks_name(const LuksName<E> (&table)[N], const std::string& name) {
    for (const auto& e : table)
        if (name == e.name) return true;
    return false;
}

// LUKS1 counts in 512-byte sectors with 32-bit numbers; key material and
// payload start after the 4 KiB header; qemu only opens headers with 4000
// stripes in every slot.
constexpr uint64_t kLuksSector = 512;
constexpr uint64_t kLuksFirstSector = 4096 / kLuksSector;
constexpr uint64_t kLuksStripes = 4000;

bool luks_offset_ok(uint64_t bytes) {
    return bytes % kLuksSector == 0 && bytes / kLuksSector >= kLuksFirstSector && bytes / kLuksSector <= UINT32_MAX;
}

void check_luks(const abi::InfoLuks& l) {
    if (!luks_name(kCipherAlgs, l.cipher_alg)) refuse("LUKS cipher algorithm " + std::to_string(l.cipher_alg));
    if (!luks_name(kCipherModes, l.cipher_mode)) refuse("LUKS cipher mode " + std::to_string(l.cipher_mode));
    if (!luks_name(kIvgenAlgs, l.ivgen_alg)) refuse("LUKS IV generator " + std::to_string(l.ivgen_alg));
    if (!luks_name(kHashAlgs, l.hash_alg)) refuse("LUKS hash algorithm " + std::to_string(l.hash_alg));
    // qemu shows the IV generator's hash with ESSIV, and only then.
    const bool essiv = l.ivgen_alg == uint32_t(abi::LuksIvgenAlg::essiv);
    if (essiv != (l.ivgen_hash_alg != 0)) refuse("LUKS IV generator hash disagrees with the IV generator");
    if (essiv && !luks_name(kHashAlgs, l.ivgen_hash_alg))
        refuse("LUKS IV generator hash " + std::to_string(l.ivgen_hash_alg));
    check_length(l.uuid, "LUKS uuid");
    if (l.reserved != 0) refuse("LUKS reserved field set");
    if (l.master_key_iters == 0) refuse("LUKS master key iterations 0");
    if (!luks_offset_ok(l.payload_offset)) refuse("LUKS payload offset " + std::to_string(l.payload_offset));
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) {
        const abi::InfoLuksSlot& s = l.slots[i];
        std::string which = "LUKS key slot " + std::to_string(i);
        if (s.active > 1) refuse(which + " active " + std::to_string(s.active));
        if (s.reserved != 0) refuse(which + " reserved field set");
        if (!luks_offset_ok(s.key_offset)) refuse(which + " key offset " + std::to_string(s.key_offset));
        if (s.active && (s.iters == 0 || s.stripes != kLuksStripes)) refuse(which + " iterations or stripes");
        if (!s.active && (s.iters != 0 || s.stripes != 0)) refuse(which + " inactive with iterations or stripes");
    }
}

void check_qcow2_encryption(const abi::InfoResult& r) {
    const abi::InfoQcow2& q = r.qcow2;
    if (q.encrypt_format > uint32_t(abi::Qcow2EncryptFormat::luks))
        refuse("qcow2 encryption format " + std::to_string(q.encrypt_format));
    const bool encrypted = (r.flags & abi::kInfoEncrypted) != 0;
    if (encrypted != (q.encrypt_format != uint32_t(abi::Qcow2EncryptFormat::none)))
        refuse("qcow2 encryption format disagrees with the encrypted flag");
    if (q.encrypt_format == uint32_t(abi::Qcow2EncryptFormat::luks)) {
        check_luks(q.luks);
    } else if (!all_zero(q.luks)) {
        refuse("LUKS details on a qcow2 without LUKS encryption");
    }
}

}  // namespace

void validate_qcow2_encryption(const Qcow2Encryption& e) {
    if (e.format == Qcow2Encryption::Format::aes) {
        if (!e.cipher_alg.empty() || !e.cipher_mode.empty() || !e.ivgen_alg.empty() || e.ivgen_hash_alg ||
            !e.hash_alg.empty() || !e.uuid.empty() || !e.slots.empty() || e.payload_offset || e.master_key_iters)
            refuse("LUKS details on an AES-encrypted qcow2");
        return;
    }
    if (e.format != Qcow2Encryption::Format::luks) refuse("unknown qcow2 encryption format");
    if (!is_luks_name(kCipherAlgs, e.cipher_alg)) refuse("LUKS cipher algorithm");
    if (!is_luks_name(kCipherModes, e.cipher_mode)) refuse("LUKS cipher mode");
    if (!is_luks_name(kIvgenAlgs, e.ivgen_alg)) refuse("LUKS IV generator");
    if (!is_luks_name(kHashAlgs, e.hash_alg)) refuse("LUKS hash algorithm");
    if (e.ivgen_hash_alg && !is_luks_name(kHashAlgs, *e.ivgen_hash_alg)) refuse("LUKS IV generator hash");
    if (e.uuid.size() > abi::kInfoLuksUuidMax) refuse("LUKS uuid longer than its 40 header bytes");
    if (e.payload_offset > kInt64Max || e.master_key_iters > UINT32_MAX) refuse("LUKS payload offset or iterations");
    if (e.slots.size() != abi::kInfoLuksSlots) refuse("LUKS with " + std::to_string(e.slots.size()) + " key slots (8)");
    for (const LuksSlotInfo& s : e.slots) {
        if (s.iters > UINT32_MAX || s.stripes > UINT32_MAX || s.key_offset > kInt64Max)
            refuse("LUKS key slot out of range");
        if (!s.active && (s.iters || s.stripes)) refuse("inactive LUKS key slot with iterations or stripes");
    }
}

std::optional<Qcow2Encryption> qcow2_encryption_of(const abi::InfoResult& r) {
    if (r.format != uint32_t(Format::qcow2)) return std::nullopt;
    const abi::InfoQcow2& q = r.qcow2;
    Qcow2Encryption e;
    switch (abi::Qcow2EncryptFormat(q.encrypt_format)) {
    case abi::Qcow2EncryptFormat::none:
        return std::nullopt;
    case abi::Qcow2EncryptFormat::aes:
        e.format = Qcow2Encryption::Format::aes;
        return e;
    case abi::Qcow2EncryptFormat::luks:
        break;
    default:
        refuse("qcow2 encryption format " + std::to_string(q.encrypt_format));
    }
    check_luks(q.luks);
    const abi::InfoLuks& l = q.luks;
    e.format = Qcow2Encryption::Format::luks;
    e.cipher_alg = luks_name(kCipherAlgs, l.cipher_alg);
    e.cipher_mode = luks_name(kCipherModes, l.cipher_mode);
    e.ivgen_alg = luks_name(kIvgenAlgs, l.ivgen_alg);
    if (l.ivgen_hash_alg != 0) e.ivgen_hash_alg = luks_name(kHashAlgs, l.ivgen_hash_alg);
    e.hash_alg = luks_name(kHashAlgs, l.hash_alg);
    e.payload_offset = l.payload_offset;
    e.master_key_iters = l.master_key_iters;
    e.uuid = info_string(l.uuid);
    for (const abi::InfoLuksSlot& s : l.slots) e.slots.push_back({s.active != 0, s.iters, s.stripes, s.key_offset});
    return e;
}

void validate_info_bitmaps(const abi::InfoResult& r, const std::vector<abi::InfoBitmap>& bitmaps) {
    const uint32_t counted = r.format == uint32_t(Format::qcow2) ? r.qcow2.bitmap_count : 0;
    if (bitmaps.size() != counted)
        refuse(std::to_string(bitmaps.size()) + " bitmap records for a bitmap count of " + std::to_string(counted));
    constexpr uint32_t kKnownBitmapFlags = abi::kInfoBitmapInUse | abi::kInfoBitmapAuto;
    for (size_t i = 0; i < bitmaps.size(); ++i) {
        const abi::InfoBitmap& b = bitmaps[i];
        std::string which = "bitmap " + std::to_string(i);
        if (b.flags & ~kKnownBitmapFlags) refuse(which + " has unknown flags " + std::to_string(b.flags));
        // qemu's granularities: 512 B to 2 GiB.
        if (!is_power_of_two(b.granularity) || b.granularity < 512)
            refuse(which + " granularity " + std::to_string(b.granularity));
        check_length(b.name, (which + " name").c_str());
    }
}

std::vector<RecordKind> info_record_kinds() {
    std::vector<RecordKind> kinds(4);
    kinds[kInfoSnapshotList] = {uint32_t(abi::InfoRecord::snapshot), sizeof(abi::InfoSnapshot),
                                abi::kInfoMaxSnapshots};
    kinds[kInfoExtentList] = {uint32_t(abi::InfoRecord::vmdk_extent), sizeof(abi::InfoVmdkExtent),
                              abi::kInfoMaxVmdkExtents};
    kinds[kInfoExtentFileList] = {uint32_t(abi::InfoRecord::vmdk_extent_file), sizeof(abi::InfoVmdkExtentFile),
                                  abi::kInfoMaxVmdkExtents};
    kinds[kInfoBitmapList] = {uint32_t(abi::InfoRecord::bitmap), sizeof(abi::InfoBitmap), abi::kInfoMaxBitmaps};
    return kinds;
}

std::vector<std::string> accept_extent_file_request(const GuestOutput& output) {
    const auto info = output.result_as<abi::InfoResult>("info");
    return validate_vmdk_extent_files(info, records_as<abi::InfoVmdkExtentFile>(output.records[kInfoExtentFileList]));
}

namespace {

// The checks of everything an InfoImage holds besides its result, against
// that result (already checked).
void check_against_result(const InfoImage& img) {
    validate_info_snapshots(img.info, img.snapshots);
    validate_info_vmdk_extents(img.info, img.extents);
    validate_info_bitmaps(img.info, img.bitmaps);
    // What the result says qemu shows under "encrypt:", and the details
    // to show there, must agree.
    const bool qcow2 = img.info.format == uint32_t(Format::qcow2);
    const uint32_t format = qcow2 ? img.info.qcow2.encrypt_format : uint32_t(abi::Qcow2EncryptFormat::none);
    if (format != uint32_t(abi::Qcow2EncryptFormat::none) && !img.encryption)
        throw Error("invalid info result: an encrypted qcow2 image without its encryption details");
    if (img.encryption) {
        const auto expected = img.encryption->format == Qcow2Encryption::Format::aes ? abi::Qcow2EncryptFormat::aes
                                                                                     : abi::Qcow2EncryptFormat::luks;
        if (format != uint32_t(expected))
            throw Error("invalid info result: encryption details disagree with the image's encryption");
        validate_qcow2_encryption(*img.encryption);
    }
}

}  // namespace

CheckedInfoImage check_info_image(InfoImage image) {
    validate_info_result(image.info);
    check_against_result(image);
    return CheckedInfoImage(std::move(image));
}

CheckedInfoImage accept_info_output(const GuestOutput& output, abi::Format requested,
                                    const std::vector<std::string>* extent_files, InfoImage image) {
    image.info = output.result_as<abi::InfoResult>("info");
    if (extent_files)
        validate_vmdk_extent_names(records_as<abi::InfoVmdkExtent>(output.records[kInfoExtentList]), *extent_files);
    if (output.records[kInfoExtentFileList].count() != 0)
        throw Error("invalid info result from the guest: extent file names with a final answer");
    image.snapshots = records_as<abi::InfoSnapshot>(output.records[kInfoSnapshotList]);
    image.extents = records_as<abi::InfoVmdkExtent>(output.records[kInfoExtentList]);
    image.bitmaps = records_as<abi::InfoBitmap>(output.records[kInfoBitmapList]);
    validate_info_result(image.info);
    if (requested != abi::Format::none && image.info.format != uint32_t(requested))
        throw Error("guest misbehaved: info result contradicts the requested format");
    // Read from the result only once the result is known to be in range.
    image.encryption = qcow2_encryption_of(image.info);
    check_against_result(image);
    return CheckedInfoImage(std::move(image));
}

}  // namespace instar::image
