#include "vmdk_desc_parse.h"

namespace instar::formats::vmdk {

namespace {

// Longest backing file name qemu keeps (PATH_MAX, without the NUL).
constexpr size_t kMaxParentHint = 4095;

size_t length_of(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

bool is_scanf_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool scan_hex(const char* s, size_t len, uint32_t& out) {
    size_t i = 0;
    while (i < len && is_scanf_space(s[i])) ++i;
    bool negative = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        ++i;
    }
    bool digits = false;
    if (i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        digits = true;  // "0x" with nothing after it reads as 0
        i += 2;
    }
    uint64_t value = 0;
    bool overflow = false;
    for (; i < len && hex_value(s[i]) >= 0; ++i) {
        digits = true;
        const uint64_t d = uint64_t(hex_value(s[i]));
        if (value > (UINT64_MAX - d) / 16) {
            overflow = true;
        } else {
            value = value * 16 + d;
        }
    }
    if (!digits) return false;
    // strtoul semantics, then the cast to the 32-bit destination.
    if (overflow) {
        value = UINT64_MAX;
    } else if (negative) {
        value = 0 - value;
    }
    out = uint32_t(value);
    return true;
}

}  // namespace

bool find_text(const char* text, size_t len, const char* needle, size_t& pos) {
    const size_t n = length_of(needle);
    if (n > len) return false;
    for (size_t i = 0; i + n <= len; ++i) {
        size_t j = 0;
        while (j < n && text[i + j] == needle[j]) ++j;
        if (j == n) {
            pos = i;
            return true;
        }
    }
    return false;
}

bool read_cid_field(const char* text, size_t len, const char* key, uint32_t& out) {
    size_t pos = 0;
    if (!find_text(text, len, key, pos)) return false;
    // qemu skips the key and one more byte (the '='); past the end of the
    // string it would read bytes beyond the NUL, which we refuse.
    const size_t start = pos + length_of(key) + 1;
    if (start > len) return false;
    return scan_hex(text + start, len - start, out);
}

bool find_parent_hint(const char* text, size_t len, ParentHint& out) {
    static constexpr char kKey[] = "parentFileNameHint";
    out = ParentHint{false, 0, 0};
    size_t pos = 0;
    if (!find_text(text, len, kKey, pos)) return true;
    out.present = true;
    const size_t start = pos + (sizeof(kKey) - 1) + 2;  // skip `="`
    if (start > len) return false;
    for (size_t i = start; i < len; ++i) {
        if (text[i] == '"') {
            if (i - start > kMaxParentHint) return false;
            out.start = start;
            out.length = i - start;
            return true;
        }
    }
    return false;
}

bool parent_hint_ok(const char* text, size_t len) {
    ParentHint hint;
    return find_parent_hint(text, len, hint);
}

size_t descriptor_length(const char* buf, size_t max) {
    size_t n = 0;
    while (n < max && buf[n] != '\0') ++n;
    return n;
}

}  // namespace instar::formats::vmdk
