#include "cli/size_parser.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <locale.h>

#include "host/error.h"

namespace instar::cli {
namespace {

// qemu's suffix multipliers; the unit is always 1024 for sizes.
int64_t suffix_multiplier(char c) {
    switch (c) {
    case 'b': case 'B': return 1;
    case 'k': case 'K': return int64_t{1} << 10;
    case 'm': case 'M': return int64_t{1} << 20;
    case 'g': case 'G': return int64_t{1} << 30;
    case 't': case 'T': return int64_t{1} << 40;
    case 'p': case 'P': return int64_t{1} << 50;
    case 'e': case 'E': return int64_t{1} << 60;
    default: return -1;
    }
}

// C's strtoull, with qemu's fix-up for "0x" that glibc parses as "0".
// Returns the errno-style result: 0, EINVAL (no conversion) or ERANGE.
int strtou64(const char* s, const char** end, int base, uint64_t* out) {
    char* ep = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s, &ep, base);
    int err = errno;
    *out = err == ERANGE ? UINT64_MAX : v;
    *end = ep;
    if (err == 0 && ep == s) return EINVAL;
    return err;
}

// Fractions are read as the C locale's double, as qemu does (qemu-img never
// calls setlocale, so '.' is always the radix character there).
int strtod_c(const char* s, const char** end, double* out) {
    static locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
    char* ep = nullptr;
    errno = 0;
    double v = strtod_l(s, &ep, c_locale);
    int err = errno;
    *out = v;
    *end = ep;
    if (err == 0 && ep == s) return EINVAL;
    if (!__builtin_isfinite(v)) {
        *end = s;
        return EINVAL;
    }
    return err;
}

SizeParse parse_size_cstr(const char* nptr) {
    SizeParse r;
    const char* endptr = nptr;
    uint64_t val = 0;
    uint64_t valf = 0;  // 0.64 fixed-point fraction
    bool hex = false;

    int err = strtou64(nptr, &endptr, 10, &val);
    if (err) {
        r.status = err == ERANGE ? SizeParseStatus::out_of_range : SizeParseStatus::invalid;
        return r;
    }
    // strtoull accepts "-5" as a huge number; sizes are never negative.
    if (std::memchr(nptr, '-', static_cast<size_t>(endptr - nptr)) != nullptr) return r;

    if (val == 0 && (*endptr == 'x' || *endptr == 'X')) {
        err = strtou64(nptr, &endptr, 16, &val);
        if (err) {
            r.status = err == ERANGE ? SizeParseStatus::out_of_range : SizeParseStatus::invalid;
            return r;
        }
        if (*endptr == '.') return r;
        hex = true;
    } else if (*endptr == '.') {
        const char* f = endptr;
        double fraction = 0;
        if (strtod_c(f, &endptr, &fraction) != 0) {
            endptr = f + 1;  // "5.k": the dot alone is allowed
        } else if (std::memchr(f, 'e', static_cast<size_t>(endptr - f)) != nullptr ||
                   std::memchr(f, 'E', static_cast<size_t>(endptr - f)) != nullptr) {
            return r;  // exponents are refused outright
        } else {
            valf = static_cast<uint64_t>(fraction * 0x1p64);
        }
    }

    int64_t mul = suffix_multiplier(*endptr);
    if (mul > 0) {
        r.hex_with_suffix = hex;
        ++endptr;
    } else {
        mul = 1;
    }
    if (mul == 1) {
        if (valf != 0) return r;  // a fraction needs a scaling suffix
    } else {
        // Exact 64.64 x 64 product, rounded half up, overflow past 64 bits.
        unsigned __int128 whole = static_cast<unsigned __int128>(val) * static_cast<uint64_t>(mul);
        unsigned __int128 frac = static_cast<unsigned __int128>(valf) * static_cast<uint64_t>(mul);
        unsigned __int128 total = whole + (frac >> 64) + ((frac >> 63) & 1);
        if ((total >> 64) != 0) {
            r.status = SizeParseStatus::out_of_range;
            return r;
        }
        val = static_cast<uint64_t>(total);
    }
    if (*endptr != '\0') return r;
    r.status = SizeParseStatus::ok;
    r.value = val;
    return r;
}

}  // namespace

SizeParse parse_qemu_size(std::string_view text) {
    // Command-line text cannot hold a NUL; one embedded here ends the number
    // early, which then fails the whole-string match, as in C.
    std::string s(text);
    if (s.size() != std::strlen(s.c_str())) return SizeParse{};
    return parse_size_cstr(s.c_str());
}

std::string hex_suffix_warning(std::string_view text) {
    return "Using a multiplier suffix on hex numbers is deprecated: " + std::string(text);
}

uint64_t parse_image_size_argument(std::string_view text, std::vector<std::string>& warnings) {
    SizeParse p = parse_qemu_size(text);
    if (p.hex_with_suffix) warnings.push_back(hex_suffix_warning(text));
    if (p.status == SizeParseStatus::invalid) {
        // qemu-img prints this sentence over two lines; instar errors are one.
        throw Error(
            "Invalid image size specified. You may use k, M, G, T, P or E suffixes for "
            "kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
    }
    if (p.status == SizeParseStatus::out_of_range || p.value > static_cast<uint64_t>(INT64_MAX)) {
        throw Error("Invalid image size specified. Must be between 0 and 9223372036854775807.");
    }
    return p.value;
}

SizeParse parse_qemu_number(std::string_view text) {
    SizeParse r;
    std::string s(text);
    if (s.size() != std::strlen(s.c_str())) return r;
    const char* end = nullptr;
    uint64_t v = 0;
    int err = strtou64(s.c_str(), &end, 0, &v);
    if (err == ERANGE) {
        r.status = SizeParseStatus::out_of_range;
        return r;
    }
    if (err || *end != '\0') return r;
    r.status = SizeParseStatus::ok;
    r.value = v;
    return r;
}

}  // namespace instar::cli
