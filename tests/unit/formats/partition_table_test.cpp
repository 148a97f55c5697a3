#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "formats/raw/partition_table.h"

namespace instar::formats {
namespace {

std::vector<uint8_t> mbr_disk(uint8_t status, uint8_t type, uint32_t sectors) {
    std::vector<uint8_t> d(4096, 0);
    d[510] = 0x55;
    d[511] = 0xaa;
    d[446] = status;
    d[446 + 4] = type;
    std::memcpy(&d[446 + 12], &sectors, 4);
    return d;
}

TEST(PartitionTable, RecognisesMbr) {
    auto d = mbr_disk(0x80, 0x83, 2048);
    EXPECT_TRUE(has_partition_table(d.data(), d.size()));
}

TEST(PartitionTable, BootSignatureAloneIsNotATable) {
    auto d = mbr_disk(0x00, 0x00, 0);
    EXPECT_FALSE(has_partition_table(d.data(), d.size()));
    auto bad_status = mbr_disk(0x42, 0x83, 100);
    EXPECT_FALSE(has_partition_table(bad_status.data(), bad_status.size()));
}

TEST(PartitionTable, RecognisesGpt) {
    std::vector<uint8_t> d(4096, 0);
    std::memcpy(&d[512], "EFI PART", 8);
    uint32_t header_size = 92;
    std::memcpy(&d[512 + 12], &header_size, 4);
    EXPECT_TRUE(has_partition_table(d.data(), d.size()));
    EXPECT_FALSE(has_partition_table(d.data(), 600)) << "truncated";
}

TEST(PartitionTable, ZeroesAndTextAreNot) {
    std::vector<uint8_t> zeros(4096, 0);
    EXPECT_FALSE(has_partition_table(zeros.data(), zeros.size()));
    std::vector<uint8_t> text(4096, 'a');
    EXPECT_FALSE(has_partition_table(text.data(), text.size()));
    EXPECT_FALSE(has_partition_table(text.data(), 10));
}

}  // namespace
}  // namespace instar::formats
