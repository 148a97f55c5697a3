#include "formats/vmdk/vmdk_text.h"

namespace instar::formats::vmdk {

void TextBuilder::bytes(const char* s, size_t n) {
    if (!ok_ || n > cap_ - len_) {
        ok_ = false;
        return;
    }
    for (size_t i = 0; i < n; ++i) buf_[len_ + i] = s[i];
    len_ += n;
}

void TextBuilder::str(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    bytes(s, n);
}

void TextBuilder::dec(uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n] = char('0' + v % 10);
        v /= 10;
        ++n;
    } while (v != 0);
    bytes(digits + sizeof(digits) - n, n);
}

void TextBuilder::hex(uint32_t v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char digits[8];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n] = kDigits[v & 0xf];
        v >>= 4;
        ++n;
    } while (v != 0);
    bytes(digits + sizeof(digits) - n, n);
}

bool bounded_length(const char* s, size_t max, size_t& len) {
    for (size_t i = 0; i < max; ++i) {
        if (s[i] == '\0') {
            len = i;
            return true;
        }
    }
    return false;
}

}  // namespace instar::formats::vmdk
