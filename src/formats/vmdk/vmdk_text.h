// Bounded text building and C-string checks for descriptor code, which has
// no libc (no snprintf, no strnlen).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::vmdk {

// Appends into a fixed buffer; once something does not fit, the buffer
// stops growing and ok() stays false for good.
class TextBuilder {
public:
    TextBuilder(char* buf, size_t capacity) : buf_(buf), cap_(capacity) {}

    void str(const char* s);
    void bytes(const char* s, size_t n);
    void dec(uint64_t v);  // like printf("%" PRIu64)
    void hex(uint32_t v);  // like printf("%" PRIx32): lower case, no padding

    bool ok() const { return ok_; }
    size_t size() const { return len_; }

private:
    char* buf_;
    size_t cap_;
    size_t len_ = 0;
    bool ok_ = true;
};

// Length of the NUL-terminated string in s[0, max); false when there is no
// NUL in that range.
bool bounded_length(const char* s, size_t max, size_t& len);

}  // namespace instar::formats::vmdk
