// qcow2 L2 entries as qemu reads them (qcow2_get_subcluster_type,
// qcow2_get_subcluster_range_type), and compressed cluster descriptors.
#include <gtest/gtest.h>

#include "formats/qcow2/qcow2_l2_entry.h"

namespace instar::formats::qcow2 {
namespace {

constexpr EntryRules kStandard{false, false};
constexpr EntryRules kExtended{true, false};
constexpr uint64_t kCopied = 1ull << 63, kCompressed = 1ull << 62;

void expect_run(SubclusterRun r, Subcluster type, uint32_t count) {
    EXPECT_EQ(r.type, type);
    EXPECT_EQ(r.count, count);
}

TEST(BlockQcow2Entry, StandardEntries) {
    expect_run(subcluster_run(kStandard, 0, 0, 0), Subcluster::unallocated_plain, 1);
    expect_run(subcluster_run(kStandard, kCopied, 0, 0), Subcluster::unallocated_plain, 1);
    expect_run(subcluster_run(kStandard, kCopied | 0x50000, 0, 0), Subcluster::normal, 1);
    expect_run(subcluster_run(kStandard, 0x50000, 0, 0), Subcluster::normal, 1);  // copied flag or not
    expect_run(subcluster_run(kStandard, 1, 0, 0), Subcluster::zero_plain, 1);
    expect_run(subcluster_run(kStandard, 0x50001, 0, 0), Subcluster::zero_alloc, 1);
    expect_run(subcluster_run(kStandard, kCompressed | 0x1234, 0, 0), Subcluster::compressed, 1);
    // Reserved bits (1-8, 56-61) are not looked at.
    expect_run(subcluster_run(kStandard, 0x50000 | 0x1fe | (0x3full << 56), 0, 0), Subcluster::normal, 1);
}

TEST(BlockQcow2Entry, DataFileOffsetZero) {
    constexpr EntryRules data_file{false, true};
    expect_run(subcluster_run(data_file, kCopied, 0, 0), Subcluster::normal, 1);
    expect_run(subcluster_run(data_file, 0, 0, 0), Subcluster::unallocated_plain, 1);
    expect_run(subcluster_run(data_file, kCopied | 1, 0, 0), Subcluster::zero_plain, 1);
    constexpr EntryRules extended_data_file{true, true};
    expect_run(subcluster_run(extended_data_file, kCopied, 0b11, 0), Subcluster::normal, 2);
}

TEST(BlockQcow2Entry, ExtendedEntries) {
    const uint64_t host = 0x50000;
    // Subclusters 0-3 data, 4-5 zero, the rest unallocated.
    const uint64_t bitmap = 0xfull | (0x30ull << 32);
    expect_run(subcluster_run(kExtended, host, bitmap, 0), Subcluster::normal, 4);
    expect_run(subcluster_run(kExtended, host, bitmap, 2), Subcluster::normal, 2);
    expect_run(subcluster_run(kExtended, host, bitmap, 4), Subcluster::zero_alloc, 2);
    expect_run(subcluster_run(kExtended, host, bitmap, 6), Subcluster::unallocated_alloc, 26);
    expect_run(subcluster_run(kExtended, host, bitmap, 31), Subcluster::unallocated_alloc, 1);
    expect_run(subcluster_run(kExtended, host, 0xffffffffull, 0), Subcluster::normal, 32);
    expect_run(subcluster_run(kExtended, host, 0xffffffffull, 31), Subcluster::normal, 1);
    // Without a cluster: zeroes or nothing.
    expect_run(subcluster_run(kExtended, 0, 0xffffffffull << 32, 3), Subcluster::zero_plain, 29);
    expect_run(subcluster_run(kExtended, 0, 0xf0ull << 32, 0), Subcluster::unallocated_plain, 4);
    expect_run(subcluster_run(kExtended, 0, 0, 0), Subcluster::unallocated_plain, 32);
    // Bit 0 is no zero flag with extended entries.
    expect_run(subcluster_run(kExtended, 1, 0, 0), Subcluster::unallocated_plain, 32);
    expect_run(subcluster_run(kExtended, host | 1, 1, 0), Subcluster::normal, 1);
    // A compressed cluster is one whole, whatever its bitmap.
    expect_run(subcluster_run(kExtended, kCompressed | 0x1000, 0x5, 7), Subcluster::compressed, 25);
}

TEST(BlockQcow2Entry, ContradictoryBitmapsAreInvalid) {
    // Data and zero at once, anywhere in the entry.
    EXPECT_EQ(subcluster_run(kExtended, 0x50000, 1ull | (1ull << 32), 9).type, Subcluster::invalid);
    EXPECT_EQ(subcluster_run(kExtended, 0x50000, (1ull << 31) | (1ull << 63), 0).type, Subcluster::invalid);
    // An allocated subcluster without a cluster.
    EXPECT_EQ(subcluster_run(kExtended, 0, 1ull << 20, 0).type, Subcluster::invalid);
}

TEST(BlockQcow2Entry, CompressedExtent) {
    // 64 KiB clusters: offset in bits 0-53, sectors - 1 in bits 54-61.
    CompressedExtent c = compressed_extent(kCompressed | (2ull << 54) | 0x12345, 16);
    EXPECT_EQ(c.offset, 0x12345u);
    EXPECT_EQ(c.bytes, 3 * 512u - 0x145);
    // 2 MiB clusters: offset in bits 0-48, 13 bits of sectors.
    c = compressed_extent(kCompressed | (0x1fffull << 49) | ((1ull << 49) - 512), 21);
    EXPECT_EQ(c.offset, (1ull << 49) - 512);
    EXPECT_EQ(c.bytes, 8192u * 512);
    // 512-byte clusters: a single bit of sectors.
    c = compressed_extent(kCompressed | (1ull << 61) | 0x200, 9);
    EXPECT_EQ(c.offset, 0x200u);
    EXPECT_EQ(c.bytes, 1024u);
}

}  // namespace
}  // namespace instar::formats::qcow2
