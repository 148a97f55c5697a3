// A fixed-capacity string builder for guest messages (there is no printf).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::guest {

template <size_t N>
class Text {
public:
    Text& operator<<(const char* s) {
        while (s && *s) put(*s++);
        return *this;
    }
    Text& operator<<(uint64_t v) {
        char digits[20];
        int n = 0;
        do {
            digits[n++] = char('0' + v % 10);
            v /= 10;
        } while (v);
        while (n) put(digits[--n]);
        return *this;
    }
    Text& operator<<(uint32_t v) { return *this << uint64_t(v); }
    Text& hex(uint64_t v) {
        static const char kDigits[] = "0123456789abcdef";
        *this << "0x";
        bool started = false;
        for (int shift = 60; shift >= 0; shift -= 4) {
            unsigned d = (v >> shift) & 0xf;
            if (d || started || shift == 0) {
                put(kDigits[d]);
                started = true;
            }
        }
        return *this;
    }
    const char* data() const { return buf_; }
    size_t size() const { return len_; }

private:
    void put(char c) {
        if (len_ < N) buf_[len_++] = c;
    }
    char buf_[N];
    size_t len_ = 0;
};

}  // namespace instar::guest
