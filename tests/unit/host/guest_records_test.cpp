// RecordCollector: a guest's records are kept only for the kinds, sizes
// and counts its operation declared.
#include <gtest/gtest.h>

#include <cstring>

#include "host/guest_fault.h"
#include "host/guest_records.h"

namespace instar {
namespace {

constexpr uint32_t kOp = 3;
const std::vector<RecordKind> kKinds = {{1, 8, 4}, {7, 2, 100}};

TEST(GuestRecords, KeepsDeclaredKindsInOrder) {
    RecordCollector c(kOp, kKinds);
    const uint8_t bytes[] = "aaaaaaaabbbbbbbbccccdd";
    c.add(kOp, 1, 8, 2, bytes);
    c.add(kOp, 7, 2, 3, bytes + 16);
    c.add(kOp, 1, 8, 2, bytes);
    auto lists = c.take();
    ASSERT_EQ(lists.size(), 2u);
    EXPECT_EQ(lists[0].kind, 1u);
    EXPECT_EQ(lists[0].count(), 4u);
    EXPECT_EQ(std::memcmp(lists[0].at(2), "aaaaaaaa", 8), 0);
    EXPECT_EQ(lists[1].count(), 3u);
    EXPECT_EQ(std::string(lists[1].bytes.begin(), lists[1].bytes.end()), "ccccdd");
    auto as = records_as<uint16_t>(lists[1]);
    EXPECT_EQ(as.size(), 3u);
    EXPECT_THROW(records_as<uint32_t>(lists[1]), Error);
}

TEST(GuestRecords, ListsWithNothingSentAreEmpty) {
    RecordCollector c(kOp, kKinds);
    auto lists = c.take();
    ASSERT_EQ(lists.size(), 2u);
    EXPECT_EQ(lists[0].count(), 0u);
    EXPECT_TRUE(records_as<uint64_t>(lists[0]).empty());
}

TEST(GuestRecords, RefusesWhatWasNotDeclared) {
    const uint8_t bytes[64] = {};
    RecordCollector c(kOp, kKinds);
    EXPECT_THROW(c.add(kOp + 1, 1, 8, 1, bytes), GuestFault);  // another op
    EXPECT_THROW(c.add(kOp, 2, 8, 1, bytes), GuestFault);      // undeclared kind
    EXPECT_THROW(c.add(kOp, 1, 4, 1, bytes), GuestFault);      // wrong size
    EXPECT_THROW(c.add(kOp, 1, 8, 5, bytes), GuestFault);      // more than declared at once
    c.add(kOp, 1, 8, 3, bytes);
    EXPECT_THROW(c.add(kOp, 1, 8, 2, bytes), GuestFault);  // more than declared in total
    c.add(kOp, 1, 8, 1, bytes);
    EXPECT_EQ(c.take()[0].count(), 4u);
}

TEST(GuestRecords, AnOpWithoutListsTakesNone) {
    const uint8_t bytes[8] = {};
    RecordCollector c(kOp, {});
    EXPECT_THROW(c.add(kOp, 1, 8, 1, bytes), GuestFault);
    EXPECT_TRUE(c.take().empty());
}

}  // namespace
}  // namespace instar
