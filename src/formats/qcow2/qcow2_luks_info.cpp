#include "formats/qcow2/qcow2_luks_info.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_info_strings.h"
#include "formats/qcow2/qcow2_open.h"

namespace instar::formats::qcow2 {
namespace {

// The LUKS1 on-disk header (cryptsetup's LUKS1 specification): big-endian
// numbers, NUL-padded names, eight key slots.
constexpr uint8_t kLuksMagic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
constexpr uint16_t kLuksVersion = 1;
constexpr size_t kHdrVersion = 6;
constexpr size_t kHdrCipherName = 8;
constexpr size_t kHdrCipherMode = 40;
constexpr size_t kHdrHashSpec = 72;
constexpr size_t kNameFieldBytes = 32;
constexpr size_t kHdrPayloadOffset = 104;  // sectors
constexpr size_t kHdrKeyBytes = 108;
constexpr size_t kHdrMasterKeyIters = 164;
constexpr size_t kHdrUuid = 168;
constexpr size_t kHdrSlots = 208;
constexpr size_t kSlotBytes = 48;
constexpr size_t kSlotActive = 0;
constexpr size_t kSlotIters = 4;
constexpr size_t kSlotKeyOffset = 40;  // sectors
constexpr size_t kSlotStripes = 44;
constexpr size_t kHeaderBytes = kHdrSlots + abi::kInfoLuksSlots * kSlotBytes;
static_assert(kHeaderBytes == 592);

constexpr uint32_t kSlotEnabled = 0x00ac71f3;
constexpr uint32_t kSlotDisabled = 0x0000dead;
// The only anti-forensic stripe count qemu accepts.
constexpr uint32_t kStripes = 4000;
constexpr uint64_t kSectorBytes = 512;
// Key material starts after the first 4 KiB (the header and its padding).
constexpr uint32_t kHeaderSectors = 4096 / kSectorBytes;

// digest_bytes: hashes only (ESSIV keys a cipher with the digest).
template <typename E>
struct Named {
    const char* name;
    E value;
    uint32_t digest_bytes = 0;
};

using abi::LuksCipherAlg;
using abi::LuksCipherMode;
using abi::LuksHashAlg;
using abi::LuksIvgenAlg;

constexpr Named<LuksCipherMode> kModes[] = {
    {"ecb", LuksCipherMode::ecb}, {"cbc", LuksCipherMode::cbc}, {"xts", LuksCipherMode::xts}, {"ctr", LuksCipherMode::ctr}};
constexpr Named<LuksIvgenAlg> kIvgens[] = {
    {"plain", LuksIvgenAlg::plain}, {"plain64", LuksIvgenAlg::plain64}, {"essiv", LuksIvgenAlg::essiv}};
constexpr Named<LuksHashAlg> kHashes[] = {
    {"md5", LuksHashAlg::md5, 16},       {"sha1", LuksHashAlg::sha1, 20},     {"sha224", LuksHashAlg::sha224, 28},
    {"sha256", LuksHashAlg::sha256, 32}, {"sha384", LuksHashAlg::sha384, 48}, {"sha512", LuksHashAlg::sha512, 64},
    {"ripemd160", LuksHashAlg::ripemd160, 20}};

// The cipher families a LUKS header may name, by key size. cast5 has one.
struct Family {
    const char* name;
    LuksCipherAlg by_key_bytes[3];  // 16, 24, 32 bytes; cast5: 16 only
    bool one_size;
};
constexpr Family kFamilies[] = {
    {"aes", {LuksCipherAlg::aes_128, LuksCipherAlg::aes_192, LuksCipherAlg::aes_256}, false},
    {"cast5", {LuksCipherAlg::cast5_128, LuksCipherAlg::cast5_128, LuksCipherAlg::cast5_128}, true},
    {"serpent", {LuksCipherAlg::serpent_128, LuksCipherAlg::serpent_192, LuksCipherAlg::serpent_256}, false},
    {"twofish", {LuksCipherAlg::twofish_128, LuksCipherAlg::twofish_192, LuksCipherAlg::twofish_256}, false},
};

// A string of the header: [p, p + len), no NUL inside.
struct Text {
    const uint8_t* p;
    size_t len;
    bool is(const char* name) const {
        size_t n = 0;
        while (name[n] != 0) ++n;
        return n == len && __builtin_memcmp(p, name, n) == 0;
    }
};

template <typename E, size_t N>
const Named<E>* lookup(const Named<E> (&table)[N], Text t) {
    for (const Named<E>& e : table)
        if (t.is(e.name)) return &e;
    return nullptr;
}

// A name field as qemu reads it: a C string that must end inside the field.
bool name_field(const uint8_t* hdr, size_t at, Text& out) {
    out = Text{hdr + at, until_nul(hdr + at, kNameFieldBytes)};
    return out.len < kNameFieldBytes;
}

// Key material of one slot, in sectors: the split key rounded up to whole
// sectors, then to the header's size (as cryptsetup lays it out). The
// product is 32-bit, as in qemu.
uint32_t key_material_sectors(uint32_t key_bytes, uint32_t stripes) {
    const uint64_t split = uint32_t(key_bytes * stripes);
    const uint64_t sectors = (split + kSectorBytes - 1) / kSectorBytes;
    return uint32_t((sectors + kHeaderSectors - 1) / kHeaderSectors * kHeaderSectors);
}

// qcrypto_block_luks_check_header: everything but the algorithms. Slot
// ends are 32-bit sums that may wrap, as qemu computes them.
bool header_ok(const uint8_t* h) {
    if (__builtin_memcmp(h, kLuksMagic, sizeof kLuksMagic) != 0) return false;
    if (load_be16(h + kHdrVersion) != kLuksVersion) return false;
    Text unused;
    if (!name_field(h, kHdrCipherName, unused) || !name_field(h, kHdrCipherMode, unused) ||
        !name_field(h, kHdrHashSpec, unused)) {
        return false;
    }
    const uint32_t payload = load_be32(h + kHdrPayloadOffset);
    if (payload < kHeaderSectors) return false;
    if (load_be32(h + kHdrMasterKeyIters) == 0) return false;

    const uint32_t key_bytes = load_be32(h + kHdrKeyBytes);
    uint32_t start[abi::kInfoLuksSlots];
    uint32_t len[abi::kInfoLuksSlots];
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) {
        const uint8_t* s = h + kHdrSlots + i * kSlotBytes;
        const uint32_t stripes = load_be32(s + kSlotStripes);
        const uint32_t active = load_be32(s + kSlotActive);
        if (stripes != kStripes) return false;
        if (active != kSlotEnabled && active != kSlotDisabled) return false;
        if (active == kSlotEnabled && load_be32(s + kSlotIters) == 0) return false;
        start[i] = load_be32(s + kSlotKeyOffset);
        len[i] = key_material_sectors(key_bytes, stripes);
        if (start[i] < kHeaderSectors) return false;
        if (uint32_t(start[i] + len[i]) > payload) return false;
    }
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) {
        for (uint32_t j = i + 1; j < abi::kInfoLuksSlots; ++j) {
            if (uint32_t(start[i] + len[i]) > start[j] && uint32_t(start[j] + len[j]) > start[i]) return false;
        }
    }
    return true;
}

// qcrypto_block_luks_cipher_name_lookup: the family's size for the key
// (XTS keys are two keys of half the size, rounded down).
bool cipher_alg(Text name, LuksCipherMode mode, uint32_t key_bytes, LuksCipherAlg& out) {
    if (mode == LuksCipherMode::xts) key_bytes /= 2;
    for (const Family& f : kFamilies) {
        if (!name.is(f.name)) continue;
        for (uint32_t k = 0; k < (f.one_size ? 1u : 3u); ++k) {
            if (key_bytes == 16 + 8 * k) {
                out = f.by_key_bytes[k];
                return true;
            }
        }
    }
    return false;
}

// qcrypto_block_luks_essiv_cipher: ESSIV keys a cipher with the hash's
// digest, so some cipher of the family must take a key of that size.
bool essiv_possible(LuksCipherAlg alg, uint32_t digest_bytes) {
    if (alg == LuksCipherAlg::cast5_128) return digest_bytes == 16;
    return digest_bytes == 16 || digest_bytes == 24 || digest_bytes == 32;
}

// qcrypto_block_luks_parse_header: "<mode>-<ivgen>[:<ivhash>]", the cipher
// by name and key size, the hash.
bool algorithms(const uint8_t* h, abi::InfoLuks& out) {
    Text spec;
    name_field(h, kHdrCipherMode, spec);
    size_t dash = 0;
    while (dash < spec.len && spec.p[dash] != '-') ++dash;
    if (dash == spec.len) return false;
    const Text mode_name{spec.p, dash};
    Text ivgen_name{spec.p + dash + 1, spec.len - dash - 1};
    size_t colon = 0;
    while (colon < ivgen_name.len && ivgen_name.p[colon] != ':') ++colon;
    const Named<LuksHashAlg>* ivhash = nullptr;
    if (colon < ivgen_name.len) {
        // Parsed (and refused when unknown) for every IV generator, though
        // only ESSIV uses it.
        ivhash = lookup(kHashes, Text{ivgen_name.p + colon + 1, ivgen_name.len - colon - 1});
        if (!ivhash) return false;
        ivgen_name.len = colon;
    }
    const Named<LuksCipherMode>* mode = lookup(kModes, mode_name);
    if (!mode) return false;
    Text cipher_name;
    name_field(h, kHdrCipherName, cipher_name);
    LuksCipherAlg alg{};
    if (!cipher_alg(cipher_name, mode->value, load_be32(h + kHdrKeyBytes), alg)) return false;
    Text hash_name;
    name_field(h, kHdrHashSpec, hash_name);
    const Named<LuksHashAlg>* hash = lookup(kHashes, hash_name);
    const Named<LuksIvgenAlg>* ivgen = lookup(kIvgens, ivgen_name);
    if (!hash || !ivgen) return false;
    const bool essiv = ivgen->value == LuksIvgenAlg::essiv;
    if (essiv && (!ivhash || !essiv_possible(alg, ivhash->digest_bytes))) return false;

    out.cipher_alg = uint32_t(alg);
    out.cipher_mode = uint32_t(mode->value);
    out.ivgen_alg = uint32_t(ivgen->value);
    out.ivgen_hash_alg = essiv ? uint32_t(ivhash->value) : 0;
    out.hash_alg = uint32_t(hash->value);
    return true;
}

}  // namespace

Status read_luks_info(ImageSource& src, uint64_t offset, uint64_t length, abi::InfoLuks& out) {
    static_assert(abi::kInfoLuksUuidMax == 40, "the header's uuid field");
    __builtin_memset(&out, 0, sizeof out);
    // qemu reads the header through the extension: it must hold it all.
    if (length < kHeaderBytes || !read_allowed(offset, kHeaderBytes)) return Status::image_invalid;
    uint8_t h[kHeaderBytes];
    if (!src.read(offset, h, sizeof h)) return Status::read_failed;
    if (!header_ok(h) || !algorithms(h, out)) return Status::image_invalid;

    out.master_key_iters = load_be32(h + kHdrMasterKeyIters);
    out.payload_offset = uint64_t(load_be32(h + kHdrPayloadOffset)) * kSectorBytes;
    set_string(out.uuid, h + kHdrUuid, until_nul(h + kHdrUuid, abi::kInfoLuksUuidMax));
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) {
        const uint8_t* s = h + kHdrSlots + i * kSlotBytes;
        abi::InfoLuksSlot& slot = out.slots[i];
        slot.active = load_be32(s + kSlotActive) == kSlotEnabled;
        slot.key_offset = uint64_t(load_be32(s + kSlotKeyOffset)) * kSectorBytes;
        if (slot.active) {
            slot.iters = load_be32(s + kSlotIters);
            slot.stripes = load_be32(s + kSlotStripes);
        }
    }
    return kOk;
}

}  // namespace instar::formats::qcow2
