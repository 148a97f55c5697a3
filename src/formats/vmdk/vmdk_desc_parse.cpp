#include "formats/vmdk/vmdk_desc_parse.h"

#include "abi/ops/info.h"

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

namespace {

bool same(const char* text, size_t len, const char* word) {
    size_t i = 0;
    for (; i < len; ++i) {
        if (word[i] == '\0' || text[i] != word[i]) return false;
    }
    return word[i] == '\0';
}

constexpr size_t kTokenLongest = 10;  // "%10s"

// sscanf's "%ld" at text[i]: white space, an optional sign, decimal digits,
// saturating on overflow as glibc does. False when no digit follows.
bool scan_int64(const char* text, size_t len, size_t& i, int64_t& out) {
    while (i < len && is_scanf_space(text[i])) ++i;
    bool negative = false;
    if (i < len && (text[i] == '+' || text[i] == '-')) {
        negative = text[i] == '-';
        ++i;
    }
    if (i >= len || text[i] < '0' || text[i] > '9') return false;
    // Magnitude up to 2^63 (INT64_MIN's); beyond it saturates.
    constexpr uint64_t kLimit = uint64_t(1) << 63;
    uint64_t value = 0;
    bool overflow = false;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; ++i) {
        const uint64_t d = uint64_t(text[i] - '0');
        if (value > (kLimit - d) / 10) {
            overflow = true;
        } else {
            value = value * 10 + d;
        }
    }
    if (negative) {
        out = overflow || value == kLimit ? INT64_MIN : -int64_t(value);
    } else {
        out = overflow || value >= kLimit ? INT64_MAX : int64_t(value);
    }
    return true;
}

bool is_name_byte(char c) { return c != '\n' && c != '\r' && c != '"'; }

struct TypeName {
    ExtentType type;
    const char* name;
};
constexpr TypeName kTypeNames[] = {
    {ExtentType::flat, abi::kVmdkFlatExtentTypes[0]},
    {ExtentType::vmfs, abi::kVmdkFlatExtentTypes[1]},
    {ExtentType::sparse, abi::kVmdkSparseExtentTypes[0]},
    {ExtentType::vmfs_sparse, abi::kVmdkSparseExtentTypes[1]},
    {ExtentType::se_sparse, abi::kVmdkSparseExtentTypes[2]},
};

}  // namespace

bool find_create_type(const char* text, size_t len, size_t& start, size_t& length) {
    static constexpr char kKey[] = "createType";
    size_t pos = 0;
    if (!find_text(text, len, kKey, pos)) return false;
    const size_t from = pos + (sizeof(kKey) - 1) + 2;  // skip `="`
    if (from >= len) return false;
    for (size_t i = from; i < len; ++i) {
        if (text[i] != '"') continue;
        if (i - from > kCreateTypeLongest) return false;
        start = from;
        length = i - from;
        return true;
    }
    return false;
}

bool is_descriptor_file_type(const char* type, size_t len) {
    for (const char* name : abi::kVmdkDescriptorFileTypes) {
        if (same(type, len, name)) return true;
    }
    return false;
}

const char* extent_type_name(ExtentType t) {
    for (const TypeName& n : kTypeNames) {
        if (n.type == t) return n.name;
    }
    return "";
}

namespace {

size_t skip_space(const char* text, size_t len, size_t i) {
    while (i < len && is_scanf_space(text[i])) ++i;
    return i;
}

}  // namespace

ExtentLineReader::Outcome ExtentLineReader::read_from(size_t i, ExtentLine& line) const {
    // "%10s": the access mode. qemu passes over any line whose first word
    // is not exactly RW, whatever else it holds.
    const size_t access = i;
    while (i < len_ && !is_scanf_space(text_[i]) && i - access < kTokenLongest) ++i;
    if (!same(text_ + access, i - access, "RW")) return Outcome::skip;

    // " %ld": the size in sectors.
    int64_t sectors = 0;
    if (!scan_int64(text_, len_, i, sectors)) return Outcome::skip;

    // " %10s": the type.
    i = skip_space(text_, len_, i);
    if (i >= len_) return Outcome::skip;
    const size_t type = i;
    while (i < len_ && !is_scanf_space(text_[i]) && i - type < kTokenLongest) ++i;
    const size_t type_len = i - type;

    // ` "%511[^\n\r"]`: the file name; fewer than four conversions make
    // qemu pass over the line.
    i = skip_space(text_, len_, i);
    if (i >= len_ || text_[i] != '"') return Outcome::skip;
    ++i;
    const size_t name = i;
    while (i < len_ && i - name < kNameLongest && is_name_byte(text_[i])) ++i;
    if (i == name) return Outcome::skip;
    const size_t name_len = i - name;

    // `" %ld`: the offset, read only after a closing quote.
    int matches = 4;
    int64_t flat_offset = -1;
    if (i < len_ && text_[i] == '"') {
        ++i;
        if (scan_int64(text_, len_, i, flat_offset)) matches = 5;
    }

    ExtentType t = ExtentType::flat;
    bool known = false;
    for (const TypeName& n : kTypeNames) {
        if (same(text_ + type, type_len, n.name)) {
            t = n.type;
            known = true;
        }
    }
    // qemu's checks, in its order: the offset's presence decides validity
    // before the size or the type is looked at.
    if (known && t == ExtentType::flat) {
        if (matches != 5 || flat_offset < 0) return Outcome::invalid;
    } else if (known && t == ExtentType::vmfs) {
        if (matches != 4) return Outcome::invalid;
        flat_offset = 0;
    } else if (matches != 4) {
        return Outcome::invalid;
    }
    if (sectors <= 0 || !known) return Outcome::skip;

    line.type = t;
    line.sectors = uint64_t(sectors);
    line.flat_offset = t == ExtentType::flat || t == ExtentType::vmfs ? uint64_t(flat_offset) : 0;
    line.name_start = name;
    line.name_length = name_len;
    return Outcome::extent;
}

Status ExtentLineReader::next(ExtentLine& line, bool& done) {
    done = false;
    while (line_ < len_) {
        const size_t p = line_;
        size_t end = p;
        while (end < len_ && text_[end] != '\n') ++end;
        line_ = end < len_ ? end + 1 : len_;

        // Where sscanf's first conversion starts: a line inside a run of
        // white space starts where the previous one did (the run's end is
        // not before this line's end unless the line has other bytes).
        size_t start = last_start_;
        if (!(last_start_ != SIZE_MAX && p <= last_start_)) start = skip_space(text_, len_, p);
        if (start >= len_) continue;  // nothing left to convert
        if (start != last_start_) {
            last_start_ = start;
            last_outcome_ = read_from(start, last_line_);
        }
        if (last_outcome_ == Outcome::invalid) return Status::image_invalid;
        if (last_outcome_ == Outcome::skip) continue;
        line = last_line_;
        return kOk;
    }
    done = true;
    return kOk;
}

}  // namespace instar::formats::vmdk
