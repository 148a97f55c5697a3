// Where the kernel has Landlock, the sandbox child can use the files it
// has open and open no other, by any path.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "host/landlock.h"
#include "support/in_child.h"
#include "support/temp_dir.h"

namespace instar {
namespace {

using testing::exited_with;
using testing::in_child;

TEST(LandlockTest, ChildKeepsItsOpenFilesAndCanOpenNoOther) {
    if (landlock_abi_version() == 0) GTEST_SKIP() << "this kernel has no Landlock (or it is disabled)";
    testing::TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::ofstream(dir.file("open-before")) << "before";
    std::ofstream(dir.file("other")) << "other";

    int status = in_child([&] {
        int fd = open(dir.file("open-before").c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return 10;
        if (!restrict_to_open_files()) return 11;
        char buf[6];
        if (pread(fd, buf, sizeof buf, 0) != 6 || pwrite(fd, "after!", 6, 0) != 6) return 12;
        if (open(dir.file("other").c_str(), O_RDONLY) >= 0 || errno != EACCES) return 13;
        if (open(dir.file("new").c_str(), O_RDWR | O_CREAT, 0600) >= 0 || errno != EACCES) return 14;
        if (open(dir.path().c_str(), O_RDONLY | O_DIRECTORY) >= 0 || errno != EACCES) return 15;
        if (open("/dev/null", O_WRONLY) >= 0 || errno != EACCES) return 16;
        if (unlink(dir.file("other").c_str()) == 0 || errno != EACCES) return 17;
        if (rename(dir.file("other").c_str(), dir.file("moved").c_str()) == 0 || errno != EACCES) return 18;
        return 0;
    });
    EXPECT_TRUE(exited_with(status, 0)) << "child status " << status;
    std::ifstream in(dir.file("open-before"));
    std::string text;
    in >> text;
    EXPECT_EQ(text, "after!");
    EXPECT_EQ(access(dir.file("other").c_str(), F_OK), 0);
    EXPECT_NE(access(dir.file("new").c_str(), F_OK), 0);
}

TEST(LandlockTest, ThreadsStartedAfterwardsAreRestrictedToo) {
    if (landlock_abi_version() == 0) GTEST_SKIP() << "this kernel has no Landlock (or it is disabled)";
    int status = in_child([] {
        if (!restrict_to_open_files()) return 11;
        int result = 0;
        std::thread([&] { result = open("/dev/null", O_RDONLY) < 0 && errno == EACCES ? 0 : 12; }).join();
        return result;
    });
    EXPECT_TRUE(exited_with(status, 0)) << "child status " << status;
}

}  // namespace
}  // namespace instar
