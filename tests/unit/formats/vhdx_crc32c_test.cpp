// CRC-32C: published check values, the incremental forms, and the
// checksums qemu-img itself stores in a VHDX.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vhdx/crc32c.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using formats::vhdx::Crc32c;
using formats::vhdx::crc32c;

uint32_t crc_of(const std::vector<uint8_t>& v) { return crc32c(v.data(), v.size()); }

TEST(Crc32c, CheckValues) {
    const char* digits = "123456789";
    EXPECT_EQ(crc32c(reinterpret_cast<const uint8_t*>(digits), 9), 0xE3069283u);
    EXPECT_EQ(crc32c(nullptr, 0), 0u);
    // RFC 3720 (iSCSI) appendix B.4.
    EXPECT_EQ(crc_of(std::vector<uint8_t>(32, 0x00)), 0x8A9136AAu);
    EXPECT_EQ(crc_of(std::vector<uint8_t>(32, 0xFF)), 0x62A8AB43u);
    std::vector<uint8_t> up(32), down(32);
    for (int i = 0; i < 32; ++i) {
        up[i] = uint8_t(i);
        down[i] = uint8_t(31 - i);
    }
    EXPECT_EQ(crc_of(up), 0x46DD794Eu);
    EXPECT_EQ(crc_of(down), 0x113FDB5Cu);
}

TEST(Crc32c, IncrementalMatchesOneShot) {
    std::vector<uint8_t> data(10000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 3);
    std::memset(data.data() + 3000, 0, 5000);
    Crc32c c;
    c.update(data.data(), 3000);
    c.update_zeros(5000);
    c.update(data.data() + 8000, 2000);
    EXPECT_EQ(c.value(), crc_of(data));
}

// Zero runs are taken a power of two at a time: any length must give what
// feeding the zeros one by one gives, and runs must compose.
TEST(Crc32c, ZeroRunsOfAnyLength) {
    std::vector<uint8_t> zeros((1 << 20) + 77, 0);
    const uint8_t prefix[] = {1, 2, 3, 0xFF};
    for (size_t len : {size_t(0), size_t(1), size_t(3), size_t(4096), size_t(65535), zeros.size()}) {
        Crc32c fast, slow;
        fast.update(prefix, sizeof prefix);
        slow.update(prefix, sizeof prefix);
        fast.update_zeros(len);
        slow.update(zeros.data(), len);
        EXPECT_EQ(fast.value(), slow.value()) << len;
    }
    Crc32c whole, parts;
    whole.update(prefix, sizeof prefix);
    parts.update(prefix, sizeof prefix);
    whole.update_zeros((uint64_t(1) << 33) + 12345);
    parts.update_zeros(uint64_t(1) << 32);
    parts.update_zeros(12345);
    parts.update_zeros(uint64_t(1) << 32);
    EXPECT_EQ(whole.value(), parts.value());
}

// The checksums qemu stored in its own image: header (over 4 KiB) and
// region table (over 64 KiB), each with its checksum field zeroed.
TEST(Crc32c, ReproducesQemuVhdxChecksums) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = dir.file("x.vhdx");
    ASSERT_EQ(run_command(qemu_img() + " create -q -f vhdx " + shell_quote(path) + " 64M").status, 0);
    struct Block {
        uint64_t at, size;
    };
    for (Block b : {Block{0x10000, 4096}, Block{0x20000, 4096}, Block{0x30000, 65536}, Block{0x40000, 65536}}) {
        std::vector<uint8_t> buf = read_range(path, b.at, b.size);
        uint32_t stored = formats::load_le32(buf.data() + 4);
        std::memset(buf.data() + 4, 0, 4);
        EXPECT_EQ(crc_of(buf), stored) << "block at " << b.at;
    }
}

}  // namespace
}  // namespace instar::testing
