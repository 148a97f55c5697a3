// The output is unnamed until committed (O_TMPFILE), so a failed or killed
// run leaves nothing; an existing target is replaced whole or not at all,
// keeping its mode but not setuid/setgid. Where the file system has no
// O_TMPFILE a hidden named file stands in for it.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "host/error.h"
#include "host/output_file.h"
#include "support/in_child.h"
#include "support/temp_dir.h"

namespace instar {
namespace {

using testing::exited_with;
using testing::in_child;

std::set<std::string> names_in(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.insert(e.path().filename().string());
    return names;
}

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t mode_of(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

void write_all(int fd, const std::string& s) { ASSERT_EQ(pwrite(fd, s.data(), s.size(), 0), ssize_t(s.size())); }

class OutputFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(dir.ok());
        int probe = open(dir.path().c_str(), O_TMPFILE | O_RDWR, 0600);
        if (probe < 0) GTEST_SKIP() << "the test directory's file system has no O_TMPFILE";
        close(probe);
    }
    testing::TempDir dir;
};

TEST_F(OutputFileTest, NewFileHasNoNameUntilCommitted) {
    {
        OutputFile out(dir.file("img"));
        EXPECT_FALSE(out.named_from_start());
        write_all(out.fd(), "new image");
        EXPECT_TRUE(names_in(dir.path()).empty());
        out.commit(9);
    }
    EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"img"});
    EXPECT_EQ(contents(dir.file("img")), "new image");
    mode_t mask = umask(0);
    umask(mask);
    EXPECT_EQ(mode_of(dir.file("img")), 0644 & ~mask);
}

TEST_F(OutputFileTest, WithoutCommitNothingIsLeft) {
    {
        OutputFile out(dir.file("img"));
        write_all(out.fd(), "discarded");
    }
    EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST_F(OutputFileTest, ExistingTargetIsUntouchedUntilCommitThenReplaced) {
    std::ofstream(dir.file("img")) << "old contents, longer";
    chmod(dir.file("img").c_str(), 0640);
    {
        OutputFile out(dir.file("img"));
        write_all(out.fd(), "new");
        EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"img"});
        EXPECT_EQ(contents(dir.file("img")), "old contents, longer");
        out.commit(3);
    }
    EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"img"});
    EXPECT_EQ(contents(dir.file("img")), "new");
    EXPECT_EQ(mode_of(dir.file("img")), 0640u);
}

TEST_F(OutputFileTest, ReplacementDropsSetuidAndSetgid) {
    std::ofstream(dir.file("img")) << "old";
    chmod(dir.file("img").c_str(), 06755);
    ASSERT_EQ(mode_of(dir.file("img")), 06755u);
    {
        OutputFile out(dir.file("img"));
        out.commit(0);
    }
    EXPECT_EQ(mode_of(dir.file("img")), 0755u);
}

TEST_F(OutputFileTest, TargetCreatedMeanwhileIsReplaced) {
    OutputFile out(dir.file("img"));
    write_all(out.fd(), "ours");
    std::ofstream(dir.file("img")) << "someone else's";
    out.commit(4);
    EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"img"});
    EXPECT_EQ(contents(dir.file("img")), "ours");
}

// A file system without O_TMPFILE, played by a seccomp filter that answers
// EOPNOTSUPP to it (in a child: the filter cannot be removed).
TEST_F(OutputFileTest, WithoutTmpfileAHiddenNamedFileIsUsedAndRemoved) {
    int status = in_child([&] {
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), SCMP_SYS(openat), 1,
                             SCMP_A2(SCMP_CMP_MASKED_EQ, __O_TMPFILE, __O_TMPFILE)) < 0 ||
            seccomp_load(ctx) < 0)
            return 10;
        try {
            {
                OutputFile out(dir.file("img"));
                if (!out.named_from_start()) return 11;
                auto names = names_in(dir.path());
                if (names.size() != 1 || names.begin()->rfind(".img.instar-", 0) != 0) return 12;
            }
            if (!names_in(dir.path()).empty()) return 13;
            {
                OutputFile out(dir.file("img"));
                if (pwrite(out.fd(), "named", 5, 0) != 5) return 14;
                out.commit(5);
            }
            if (names_in(dir.path()) != std::set<std::string>{"img"} || contents(dir.file("img")) != "named") return 15;
        } catch (const Error&) {
            return 16;
        }
        return 0;
    });
    EXPECT_TRUE(exited_with(status, 0)) << "child status " << status;
}

TEST_F(OutputFileTest, DirectoryOrMissingDirectoryIsRefused) {
    EXPECT_THROW(OutputFile(dir.path()), Error);
    EXPECT_THROW(OutputFile(dir.file("missing/img")), Error);
    EXPECT_TRUE(names_in(dir.path()).empty());
}

}  // namespace
}  // namespace instar
