// SIZE argument parsing against qemu-img 7.2.
//
// The expectation table is committed (verified by hand against
// qemu-img 7.2.22 when written) so the rules stay pinned without qemu-img;
// QemuImgAgrees re-checks every row against the live binary.
#include <gtest/gtest.h>

#include "cli/size_parser.h"
#include "host/error.h"
#include "qemu_img_runner.h"

namespace instar::cli {
namespace {

constexpr const char* kBadSuffix =
    "Invalid image size specified. You may use k, M, G, T, P or E suffixes for kilobytes, megabytes, "
    "gigabytes, terabytes, petabytes and exabytes.";
constexpr const char* kBadRange = "Invalid image size specified. Must be between 0 and 9223372036854775807.";

struct SizeRow {
    const char* text;
    const char* error;  // nullptr: accepted
    uint64_t value;
    bool hex_warning;
};

const SizeRow kRows[] = {
    {"0", nullptr, 0, false},
    {"1", nullptr, 1, false},
    {"1000", nullptr, 1000, false},
    {"1b", nullptr, 512 / 512, false},
    {"1B", nullptr, 1, false},
    {"1k", nullptr, 1024, false},
    {"1K", nullptr, 1024, false},
    {"1m", nullptr, 1048576, false},
    {"1M", nullptr, 1048576, false},
    {"1g", nullptr, 1073741824, false},
    {"1G", nullptr, 1073741824, false},
    {"1t", nullptr, 1099511627776, false},
    {"1T", nullptr, 1099511627776, false},
    {"1p", nullptr, 1125899906842624, false},
    {"1P", nullptr, 1125899906842624, false},
    {"1e", nullptr, 1152921504606846976, false},
    {"1E", nullptr, 1152921504606846976, false},
    {"1.5G", nullptr, 1610612736, false},
    {"1.5k", nullptr, 1536, false},
    {"1.5e", nullptr, 1729382256910270464, false},  // 'e' is exabytes, not an exponent
    {"0.5k", nullptr, 512, false},
    {"00.5k", nullptr, 512, false},
    {"0.1k", nullptr, 102, false},  // 102.4 rounds down
    {"0.3k", nullptr, 307, false},  // 307.2
    {"1.0000001k", nullptr, 1024, false},
    {"0.0009765625k", nullptr, 1, false},
    {"5.k", nullptr, 5120, false},
    {"1.0b", nullptr, 1, false},  // a zero fraction needs no scale
    {"7.9999999999999999E", nullptr, 9223372036854775680ULL, false},
    {"7.99E", nullptr, 9211842821808707328ULL, false},
    {"9223372036854775807", nullptr, 9223372036854775807ULL, false},
    {"0x10", nullptr, 16, false},
    {"0X10", nullptr, 16, false},
    {"0x7fffffffffffffff", nullptr, 9223372036854775807ULL, false},
    {"0x10k", nullptr, 16384, true},
    {"010", nullptr, 10, false},  // decimal, not octal
    {"08", nullptr, 8, false},
    {"+1", nullptr, 1, false},
    {" 1G", nullptr, 1073741824, false},
    {"\t1k", nullptr, 1024, false},
    {"", kBadSuffix, 0, false},
    {"abc", kBadSuffix, 0, false},
    {"1G ", kBadSuffix, 0, false},
    {"1 k", kBadSuffix, 0, false},
    {"1kB", kBadSuffix, 0, false},
    {"1e3", kBadSuffix, 0, false},
    {"1.5", kBadSuffix, 0, false},  // fraction without a scale
    {"1.1", kBadSuffix, 0, false},
    {"0.5", kBadSuffix, 0, false},
    {"1.5b", kBadSuffix, 0, false},
    {"4.5b", kBadSuffix, 0, false},
    {"1.9b", kBadSuffix, 0, false},
    {"0.50b", kBadSuffix, 0, false},
    {"0.9999999999b", kBadSuffix, 0, false},
    {".5k", kBadSuffix, 0, false},
    {"1..5k", kBadSuffix, 0, false},
    {"1,5k", kBadSuffix, 0, false},
    {"1_000", kBadSuffix, 0, false},
    {"1.5e3k", kBadSuffix, 0, false},
    {"-1", kBadSuffix, 0, false},
    {"-0", kBadSuffix, 0, false},
    {" -1", kBadSuffix, 0, false},
    {"0x", kBadSuffix, 0, false},
    {"0xg", kBadSuffix, 0, false},
    {"0x1.8k", kBadSuffix, 0, false},
    {"0x1.5k", kBadSuffix, 0, false},
    {"0x10kx", kBadSuffix, 0, true},  // qemu warns before it sees the garbage
    {"8E", kBadRange, 0, false},
    {"16E", kBadRange, 0, false},
    {"9223372036854775808", kBadRange, 0, false},
    {"99999999999999999999", kBadRange, 0, false},
    {"-99999999999999999999", kBadRange, 0, false},
    {"0xffffffffffffffffk", kBadRange, 0, true},
    {"0x10000000000000000", kBadRange, 0, false},
};

class SizeArgument : public ::testing::TestWithParam<SizeRow> {};

TEST_P(SizeArgument, MatchesCommittedTable) {
    const SizeRow& row = GetParam();
    std::vector<std::string> warnings;
    if (row.error) {
        try {
            parse_image_size_argument(row.text, warnings);
            FAIL() << "accepted '" << row.text << "'";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), row.error) << "'" << row.text << "'";
        }
    } else {
        EXPECT_EQ(parse_image_size_argument(row.text, warnings), row.value) << "'" << row.text << "'";
    }
    if (row.hex_warning) {
        ASSERT_EQ(warnings.size(), 1u);
        EXPECT_EQ(warnings[0], "Using a multiplier suffix on hex numbers is deprecated: " + std::string(row.text));
    } else {
        EXPECT_TRUE(warnings.empty()) << "'" << row.text << "'";
    }
}

// qemu-img create -f raw prints the parsed size on its Formatting line
// (before any failure to make a file that big), or the error.
TEST_P(SizeArgument, QemuImgAgrees) {
    INSTAR_REQUIRE_QEMU_IMG();
    const SizeRow& row = GetParam();
    testing::TempDir dir;
    // A raw image of that size would be written for small sizes only; -o
    // preallocation is off, so even 1T is a sparse file.
    testing::Outcome q = testing::run_qemu_img_create(dir, {"-f", "raw", "s.raw", "--", row.text});
    std::vector<std::string> warnings;
    if (row.error) {
        EXPECT_EQ(q.error, row.error) << "'" << row.text << "' " << q;
        EXPECT_EQ(q.out, "") << q;
    } else {
        EXPECT_EQ(q.out.substr(0, q.out.find('\n')),
                  "Formatting 's.raw', fmt=raw size=" + std::to_string(static_cast<int64_t>(row.value)))
            << "'" << row.text << "'";
    }
    EXPECT_EQ(q.warnings.size(), row.hex_warning ? 1u : 0u) << q;
}

INSTANTIATE_TEST_SUITE_P(Table, SizeArgument, ::testing::ValuesIn(kRows));

TEST(QemuSize, RanksOverflowBeforeGarbage) {
    // "-o size=" reports out-of-range separately from malformed text.
    EXPECT_EQ(parse_qemu_size("16E").status, SizeParseStatus::out_of_range);
    EXPECT_EQ(parse_qemu_size("16Ex").status, SizeParseStatus::out_of_range);
    EXPECT_EQ(parse_qemu_size("15.99999999999999999E").status, SizeParseStatus::ok);
    EXPECT_EQ(parse_qemu_size("18446744073709551615").value, UINT64_MAX);
    EXPECT_EQ(parse_qemu_size("8E").value, uint64_t{1} << 63);
}

TEST(QemuNumber, IsStrtoullBaseZero) {
    EXPECT_EQ(parse_qemu_number("16").value, 16u);
    EXPECT_EQ(parse_qemu_number("0x10").value, 16u);
    EXPECT_EQ(parse_qemu_number("010").value, 8u);
    EXPECT_EQ(parse_qemu_number(" 8").value, 8u);
    EXPECT_EQ(parse_qemu_number("-1").value, UINT64_MAX);
    EXPECT_EQ(parse_qemu_number("16k").status, SizeParseStatus::invalid);
    EXPECT_EQ(parse_qemu_number("").status, SizeParseStatus::invalid);
    EXPECT_EQ(parse_qemu_number("99999999999999999999").status, SizeParseStatus::out_of_range);
}

}  // namespace
}  // namespace instar::cli
