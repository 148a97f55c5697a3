#include "crc32c.h"

namespace instar::formats::vhdx {

namespace {

// Castagnoli polynomial, bit-reversed.
constexpr uint32_t kPolynomial = 0x82F63B78u;

struct Table {
    uint32_t entry[256];
    constexpr Table() : entry() {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
            entry[i] = c;
        }
    }
};

constexpr Table kTable;

inline uint32_t step(uint32_t state, uint8_t byte) {
    return kTable.entry[(state ^ byte) & 0xFF] ^ (state >> 8);
}

}  // namespace

void Crc32c::update(const uint8_t* data, size_t len) {
    uint32_t s = state_;
    for (size_t i = 0; i < len; ++i) s = step(s, data[i]);
    state_ = s;
}

void Crc32c::update_zeros(uint64_t len) {
    uint32_t s = state_;
    for (uint64_t i = 0; i < len; ++i) s = step(s, 0);
    state_ = s;
}

uint32_t crc32c(const uint8_t* data, size_t len) {
    Crc32c c;
    c.update(data, len);
    return c.value();
}

}  // namespace instar::formats::vhdx
