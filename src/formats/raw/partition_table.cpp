#include "formats/raw/partition_table.h"

#include "formats/common/endian.h"

namespace instar::formats {
namespace {

constexpr size_t kSector = 512;
constexpr size_t kMbrEntries = 446;  // four 16-byte partition entries

bool has_gpt(const uint8_t* head, size_t len) {
    if (len < 2 * kSector) return false;
    const uint8_t* h = head + kSector;
    static const uint8_t kSignature[8] = {'E', 'F', 'I', ' ', 'P', 'A', 'R', 'T'};
    for (int i = 0; i < 8; ++i)
        if (h[i] != kSignature[i]) return false;
    uint32_t header_size = load_le32(h + 12);
    return header_size >= 92 && header_size <= kSector;
}

bool has_mbr(const uint8_t* head, size_t len) {
    if (len < kSector || head[510] != 0x55 || head[511] != 0xaa) return false;
    // A boot signature alone is common in non-disk files: require at least
    // one plausible partition entry (status 0x00 or 0x80, a type, sectors).
    for (int i = 0; i < 4; ++i) {
        const uint8_t* e = head + kMbrEntries + 16 * i;
        uint8_t status = e[0], type = e[4];
        uint32_t sectors = load_le32(e + 12);
        if ((status == 0x00 || status == 0x80) && type != 0 && sectors != 0) return true;
    }
    return false;
}

}  // namespace

bool has_partition_table(const uint8_t* head, size_t len) {
    if (has_gpt(head, len)) return true;  // a GPT disk also has a protective MBR
    return has_mbr(head, len);
}

}  // namespace instar::formats
