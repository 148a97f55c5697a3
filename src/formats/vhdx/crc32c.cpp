#include "formats/vhdx/crc32c.h"

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

// Feeding zero bytes is linear in the state, so 2^k zero bytes are one
// 32x32 bit matrix (column i: where state bit i goes). Squaring gives the
// next power; a run of any length costs a few matrix applications instead
// of one step per byte (hostile VHDX logs ask for gigabytes of zeros).
struct ZeroOps {
    uint32_t column[64][32];

    static constexpr uint32_t apply(const uint32_t* m, uint32_t v) {
        uint32_t r = 0;
        for (int i = 0; i < 32; ++i)
            if (v & (1u << i)) r ^= m[i];
        return r;
    }
    constexpr ZeroOps() : column() {
        for (int i = 0; i < 32; ++i) {
            uint32_t c = 1u << i;
            // One zero byte: the same step as above, table built in place.
            uint32_t t = c & 0xFF;
            for (int bit = 0; bit < 8; ++bit) t = (t & 1) ? (t >> 1) ^ kPolynomial : t >> 1;
            column[0][i] = t ^ (c >> 8);
        }
        for (int k = 1; k < 64; ++k)
            for (int i = 0; i < 32; ++i) column[k][i] = apply(column[k - 1], column[k - 1][i]);
    }
};

constexpr ZeroOps kZeroOps;

}  // namespace

void Crc32c::update(const uint8_t* data, size_t len) {
    uint32_t s = state_;
    for (size_t i = 0; i < len; ++i) s = step(s, data[i]);
    state_ = s;
}

void Crc32c::update_zeros(uint64_t len) {
    uint32_t s = state_;
    // Zero-byte runs commute, so the powers may be applied in any order.
    for (int k = 0; len != 0; ++k, len >>= 1) {
        if (len & 1) s = ZeroOps::apply(kZeroOps.column[k], s);
    }
    state_ = s;
}

uint32_t crc32c(const uint8_t* data, size_t len) {
    Crc32c c;
    c.update(data, len);
    return c.value();
}

}  // namespace instar::formats::vhdx
