// Backing files open only beneath an allowed directory, whatever the path
// or symlinks say, and a refusal does not tell whether the file exists.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "host/confined_open.h"
#include "host/error.h"

namespace instar {
namespace {

class ConfinedOpenTest : public ::testing::Test {
protected:
    std::string base;
    void SetUp() override {
        char tmpl[] = "/tmp/instar-jail-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        base = tmpl;
        mkdir((base + "/allowed").c_str(), 0755);
        mkdir((base + "/allowed/sub").c_str(), 0755);
        std::ofstream(base + "/allowed/img") << "x";
        std::ofstream(base + "/allowed/sub/img2") << "y";
        std::ofstream(base + "/secret") << "s";
        ASSERT_EQ(symlink((base + "/secret").c_str(), (base + "/allowed/escape").c_str()), 0);
        ASSERT_EQ(symlink("sub/img2", (base + "/allowed/inside").c_str()), 0);
    }
    void TearDown() override { std::system(("rm -rf " + base).c_str()); }

    std::string error_of(const ConfinedOpener& j, const std::string& path) {
        try {
            close(j.open_read_only(path, "NAME"));
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }
};

TEST_F(ConfinedOpenTest, OpensFilesBeneathTheRoot) {
    ConfinedOpener j({base + "/allowed"});
    EXPECT_EQ(error_of(j, base + "/allowed/img"), "");
    EXPECT_EQ(error_of(j, base + "/allowed/sub/img2"), "");
    EXPECT_EQ(error_of(j, base + "/allowed/sub/../img"), "") << ".. that stays inside";
    EXPECT_EQ(error_of(j, base + "/allowed/inside"), "") << "a symlink that stays inside";
}

// A FIFO named by an image (a backing or extent file) must not block the
// open: nothing would ever end it, the guest's deadline has not started.
// It is refused, as anything but a regular file is.
TEST_F(ConfinedOpenTest, AFifoIsRefusedWithoutBlocking) {
    ASSERT_EQ(mkfifo((base + "/allowed/fifo").c_str(), 0644), 0);
    ConfinedOpener j({base + "/allowed"});
    EXPECT_EQ(error_of(j, base + "/allowed/fifo"), "'file' driver requires 'NAME' to be a regular file");
}

TEST_F(ConfinedOpenTest, ADirectoryIsRefused) {
    ConfinedOpener j({base + "/allowed"});
    EXPECT_EQ(error_of(j, base + "/allowed/sub"), "'file' driver requires 'NAME' to be a regular file");
}

// An image may name /dev/watchdog or another disk once a directory holding
// device nodes is allowed (`info --backing-chain /dev/sdb` allows /dev):
// device nodes are refused, and never opened for reading (opening some
// devices acts), through a symlink or not.
TEST_F(ConfinedOpenTest, DeviceNodesAreRefusedUnopened) {
    if (geteuid() != 0) GTEST_SKIP() << "making device nodes needs root";
    // /dev/null's numbers (char 1:3) and a loop device's (block 7:0).
    ASSERT_EQ(mknod((base + "/allowed/chr").c_str(), S_IFCHR | 0600, makedev(1, 3)), 0);
    ASSERT_EQ(mknod((base + "/allowed/blk").c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
    ASSERT_EQ(symlink("chr", (base + "/allowed/to-chr").c_str()), 0);
    ConfinedOpener j({base + "/allowed"});
    const std::string refused = "Could not open 'NAME': a device node named by an image is not opened";
    EXPECT_EQ(error_of(j, base + "/allowed/chr"), refused);
    EXPECT_EQ(error_of(j, base + "/allowed/blk"), refused);
    EXPECT_EQ(error_of(j, base + "/allowed/to-chr"), refused);
}

TEST_F(ConfinedOpenTest, TheDescriptorReadsTheFileItNamed) {
    ConfinedOpener j({base + "/allowed"});
    const int fd = j.open_read_only(base + "/allowed/inside", "NAME");
    char c = 0;
    EXPECT_EQ(read(fd, &c, 1), 1);
    EXPECT_EQ(c, 'y');
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    close(fd);
}

TEST_F(ConfinedOpenTest, RefusesEscapesWithoutRevealingExistence) {
    ConfinedOpener j({base + "/allowed"});
    const std::string refused = "Could not open 'NAME': not in an allowed directory (see --backing-dir)";
    EXPECT_EQ(error_of(j, base + "/secret"), refused) << "exists, outside";
    EXPECT_EQ(error_of(j, base + "/nonexistent"), refused) << "does not exist, outside";
    EXPECT_EQ(error_of(j, base + "/allowed/../secret"), refused);
    EXPECT_EQ(error_of(j, base + "/allowed/sub/../../secret"), refused);
    EXPECT_EQ(error_of(j, base + "/allowed/../nonexistent"), refused);
    EXPECT_EQ(error_of(j, base + "/allowed/escape"), refused) << "symlink out";
    EXPECT_EQ(error_of(j, "/etc/passwd"), refused);
}

TEST_F(ConfinedOpenTest, MissingFilesInsideAreReportedAsMissing) {
    ConfinedOpener j({base + "/allowed"});
    EXPECT_EQ(error_of(j, base + "/allowed/none"), "Could not open 'NAME': No such file or directory");
}

}  // namespace
}  // namespace instar
