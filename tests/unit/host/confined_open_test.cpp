// Backing files open only beneath an allowed directory, whatever the path
// or symlinks say, and a refusal does not tell whether the file exists.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
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
TEST_F(ConfinedOpenTest, AFifoDoesNotBlockTheOpen) {
    ASSERT_EQ(mkfifo((base + "/allowed/fifo").c_str(), 0644), 0);
    ConfinedOpener j({base + "/allowed"});
    const int fd = j.open_read_only(base + "/allowed/fifo", "NAME");
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
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
