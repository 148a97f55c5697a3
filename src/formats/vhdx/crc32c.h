// CRC-32C (Castagnoli), the checksum VHDX headers and region tables carry.
// Freestanding: a table built at compile time, no library code.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace instar::formats::vhdx {

// Incremental form, for checksums over mostly-zero blocks that are never
// materialised in memory.
class Crc32c {
public:
    void update(const uint8_t* data, size_t len);
    void update_zeros(uint64_t len);
    uint32_t value() const { return ~state_; }

private:
    uint32_t state_ = 0xFFFFFFFFu;
};

uint32_t crc32c(const uint8_t* data, size_t len);

}  // namespace instar::formats::vhdx
