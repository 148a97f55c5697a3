// Block requests on real files: ranges, read-only inputs, alignment,
// framing that the guest controls, the checkpoint between slices of a
// large request, and zeroes on a file system without fallocate.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "abi/virtio.h"
#include "host/block_backend.h"
#include "host/guest_fault.h"
#include "host/seccomp_filter.h"

namespace instar {
namespace {

namespace v = abi::virtio;

class BlockBackendTest : public ::testing::Test {
protected:
    char path[64] = "/tmp/instar-blk-XXXXXX";
    int fd = -1;
    alignas(16) uint8_t header_buf[16];
    uint8_t data[8192];
    uint8_t status = 0xff;

    void SetUp() override {
        fd = mkstemp(path);
        ASSERT_GE(fd, 0);
        std::string content(1000, 'x');  // not a whole number of sectors
        ASSERT_EQ(write(fd, content.data(), content.size()), 1000);
    }
    void TearDown() override {
        close(fd);
        unlink(path);
    }
    BlockBackend backend(bool read_only, uint32_t block = 512, uint64_t capacity_sectors = 2) {
        return BlockBackend{fd, 1000, capacity_sectors, block, read_only};
    }
    DescriptorChain chain(uint32_t type, uint64_t sector, uint32_t len) {
        v::BlkRequestHeader h{type, 0, sector};
        std::memcpy(header_buf, &h, sizeof h);
        DescriptorChain c;
        c.readable[c.readable_count++] = iovec{header_buf, 16};
        if (type == v::kBlkTIn || type == v::kBlkTInstarAllocation) c.writable[c.writable_count++] = iovec{data, len};
        else if (len) c.readable[c.readable_count++] = iovec{data, len};
        c.writable[c.writable_count++] = iovec{&status, 1};
        return c;
    }
};

TEST_F(BlockBackendTest, ReadsAndZeroFillsThePartialLastSector) {
    std::memset(data, 0xaa, sizeof data);
    BlockBackend b = backend(true);
    EXPECT_EQ(execute_block_request(b, chain(v::kBlkTIn, 0, 1024)), 1025u);
    EXPECT_EQ(status, v::kBlkSOk);
    EXPECT_EQ(data[999], 'x');
    EXPECT_EQ(data[1000], 0);
    EXPECT_EQ(data[1023], 0);
}

TEST_F(BlockBackendTest, RequestsBeyondCapacityEndTheRun) {
    BlockBackend in = backend(true);
    EXPECT_THROW(execute_block_request(in, chain(v::kBlkTIn, 1, 1024)), GuestFault);
    EXPECT_THROW(execute_block_request(in, chain(v::kBlkTIn, UINT64_MAX, 512)), GuestFault);
    BlockBackend out = backend(false);
    EXPECT_THROW(execute_block_request(out, chain(v::kBlkTOut, 2, 512)), GuestFault);
    EXPECT_EQ(lseek(fd, 0, SEEK_END), 1000) << "the file was not extended";
}

// The file's data and holes, from lseek: a data run reaches the hole
// (rounded out to a sector), a hole the next data, the end of the file a
// hole to the capacity.
TEST_F(BlockBackendTest, AllocationFollowsTheFilesDataAndHoles) {
    ASSERT_EQ(ftruncate(fd, 8 << 20), 0);
    ASSERT_EQ(pwrite(fd, "y", 1, 4 << 20), 1);
    BlockBackend b{fd, 8u << 20, (9u << 20) / 512, 512, true};
    auto ask = [&](uint64_t sector) {
        std::memset(data, 0xaa, sizeof data);
        EXPECT_EQ(execute_block_request(b, chain(v::kBlkTInstarAllocation, sector, 16)), 17u);
        EXPECT_EQ(status, v::kBlkSOk);
        v::BlkAllocation a;
        std::memcpy(&a, data, sizeof a);
        return a;
    };
    v::BlkAllocation a = ask(0);
    EXPECT_EQ(a.data, 1u);  // the first 1000 bytes
    EXPECT_GE(a.sectors, 2u);
    EXPECT_LE(a.sectors, (4u << 20) / 512);
    a = ask(a.sectors);
    EXPECT_EQ(a.data, 0u);
    a = ask((4u << 20) / 512);
    EXPECT_EQ(a.data, 1u);
    a = ask((8u << 20) / 512);  // past the file: a hole up to the capacity
    EXPECT_EQ(a.data, 0u);
    EXPECT_EQ(a.sectors, (1u << 20) / 512);
}

TEST_F(BlockBackendTest, AllocationQueriesAreChecked) {
    BlockBackend b = backend(true);
    EXPECT_THROW(execute_block_request(b, chain(v::kBlkTInstarAllocation, 2, 16)), GuestFault);
    EXPECT_THROW(execute_block_request(b, chain(v::kBlkTInstarAllocation, UINT64_MAX, 16)), GuestFault);
    std::memset(data, 0xaa, sizeof data);
    execute_block_request(b, chain(v::kBlkTInstarAllocation, 0, 15));
    EXPECT_EQ(status, v::kBlkSIoErr);
    execute_block_request(b, chain(v::kBlkTInstarAllocation, 0, 4096));
    EXPECT_EQ(status, v::kBlkSIoErr);
    EXPECT_EQ(data[0], 0xaa) << "nothing written on a refused query";
}

TEST_F(BlockBackendTest, RefusesWritesToInputs) {
    BlockBackend b = backend(true);
    execute_block_request(b, chain(v::kBlkTOut, 0, 512));
    EXPECT_EQ(status, v::kBlkSIoErr);
    char first;
    ASSERT_EQ(pread(fd, &first, 1, 0), 1);
    EXPECT_EQ(first, 'x');
}

TEST_F(BlockBackendTest, WritesMustBeBlockAligned) {
    BlockBackend b = backend(false, 1024, 8);
    execute_block_request(b, chain(v::kBlkTOut, 1, 1024));
    EXPECT_EQ(status, v::kBlkSIoErr) << "unaligned offset";
    execute_block_request(b, chain(v::kBlkTOut, 0, 512));
    EXPECT_EQ(status, v::kBlkSIoErr) << "partial block";
    std::memset(data, 'y', 1024);
    execute_block_request(b, chain(v::kBlkTOut, 0, 1024));
    EXPECT_EQ(status, v::kBlkSOk);
}

TEST_F(BlockBackendTest, RefusesDataThatIsNotWholeSectors) {
    BlockBackend b = backend(true);
    execute_block_request(b, chain(v::kBlkTIn, 0, 100));
    EXPECT_EQ(status, v::kBlkSIoErr);
}

TEST_F(BlockBackendTest, UnknownRequestsAreUnsupported) {
    BlockBackend b = backend(true);
    execute_block_request(b, chain(v::kBlkTGetId, 0, 0));
    EXPECT_EQ(status, v::kBlkSUnsupp);
}

TEST_F(BlockBackendTest, HeaderMayBeSplitAcrossDescriptors) {
    v::BlkRequestHeader h{v::kBlkTIn, 0, 0};
    std::memcpy(header_buf, &h, sizeof h);
    DescriptorChain c;
    c.readable[c.readable_count++] = iovec{header_buf, 5};
    c.readable[c.readable_count++] = iovec{header_buf + 5, 11};
    c.writable[c.writable_count++] = iovec{data, 512};
    c.writable[c.writable_count++] = iovec{&status, 1};
    BlockBackend b = backend(true);
    execute_block_request(b, c);
    EXPECT_EQ(status, v::kBlkSOk);
}

TEST_F(BlockBackendTest, WriteZeroesAllocatesOrPunches) {
    BlockBackend b = backend(false, 512, 64);
    v::BlkWriteZeroes wz{8, 16, 0};
    DescriptorChain c = chain(v::kBlkTWriteZeroes, 0, 0);
    c.readable[c.readable_count++] = iovec{&wz, sizeof wz};
    execute_block_request(b, c);
    EXPECT_EQ(status, v::kBlkSOk);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_size, 24 * 512) << "allocated zeroes extend the file";
    char byte = 1;
    ASSERT_EQ(pread(fd, &byte, 1, 8 * 512), 1);
    EXPECT_EQ(byte, 0);
    wz = v::BlkWriteZeroes{0, 2, v::kBlkWriteZeroesUnmap};
    execute_block_request(b, c);
    EXPECT_EQ(status, v::kBlkSOk);
    ASSERT_EQ(pread(fd, &byte, 1, 0), 1);
    EXPECT_EQ(byte, 0) << "the old data is gone";
    wz = v::BlkWriteZeroes{60, 8, 0};
    EXPECT_THROW(execute_block_request(b, c), GuestFault) << "beyond capacity";
}

TEST_F(BlockBackendTest, MissingHeaderOrStatusIsAFault) {
    BlockBackend b = backend(true);
    DescriptorChain no_status;
    no_status.readable[no_status.readable_count++] = iovec{header_buf, 16};
    EXPECT_THROW(execute_block_request(b, no_status), GuestFault);
    DescriptorChain short_header;
    short_header.readable[short_header.readable_count++] = iovec{header_buf, 8};
    short_header.writable[short_header.writable_count++] = iovec{&status, 1};
    EXPECT_THROW(execute_block_request(b, short_header), GuestFault);
}

struct Stop {};

// 64 segments of 1 MiB (one buffer, aliased): 64 MiB in one request, four
// slices, a checkpoint before each.
TEST_F(BlockBackendTest, ACheckpointComesBeforeEverySlice) {
    ASSERT_EQ(ftruncate(fd, 64 << 20), 0);
    std::vector<uint8_t> buf(1 << 20);
    v::BlkRequestHeader h{v::kBlkTIn, 0, 0};
    std::memcpy(header_buf, &h, sizeof h);
    DescriptorChain c;
    c.readable[c.readable_count++] = iovec{header_buf, 16};
    for (int i = 0; i < 64; ++i) c.writable[c.writable_count++] = iovec{buf.data(), buf.size()};
    c.writable[c.writable_count++] = iovec{&status, 1};
    BlockBackend b = backend(true, 512, (64 << 20) / 512);
    int calls = 0;
    EXPECT_EQ(execute_block_request(b, c, [&] { ++calls; }), (64u << 20) + 1);
    EXPECT_EQ(calls, int((64 << 20) / kBlockSliceBytes));
    calls = 0;
    auto stop_at_second = [&] {
        if (++calls == 2) throw Stop{};
    };
    EXPECT_THROW(execute_block_request(b, c, stop_at_second), Stop);
    EXPECT_EQ(calls, 2) << "nothing moved after the checkpoint said stop";
}

TEST_F(BlockBackendTest, WritingZeroesLooksAtTheCheckpointToo) {
    BlockBackend b = backend(false, 512, (64 << 20) / 512);
    b.allocate_by_writing = true;
    v::BlkWriteZeroes wz{0, (64 << 20) / 512, 0};
    DescriptorChain c = chain(v::kBlkTWriteZeroes, 0, 0);
    c.readable[c.readable_count++] = iovec{&wz, sizeof wz};
    int calls = 0;
    auto stop_at_second = [&] {
        if (++calls == 2) throw Stop{};
    };
    EXPECT_THROW(execute_block_request(b, c, stop_at_second), Stop);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(uint64_t(st.st_size), kBlockSliceBytes) << "one slice written, then it stopped";
}

// preallocation=falloc on ramfs (no fallocate): posix_fallocate's fallback
// asked fcntl and fstatfs, and seccomp killed the process. Now the zeroes
// are written, as glibc's fallback does for qemu-img. Run in a child with a
// mount namespace of its own and the real filter.
TEST(BlockBackendRamfsTest, AllocatedZeroesWithoutFallocateUnderSeccomp) {
    enum : int { kPass = 0, kNoNamespace = 77, kHasFallocate = 78, kFail = 1 };
    char dir[] = "/tmp/instar-ramfs-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
            mount("ramfs", dir, "ramfs", 0, nullptr) < 0)
            _exit(kNoNamespace);
        int f = open((std::string(dir) + "/out").c_str(), O_RDWR | O_CREAT, 0600);
        if (f < 0) _exit(kFail);
        if (fallocate(f, 0, 0, 512) == 0 || errno != EOPNOTSUPP) _exit(kHasFallocate);
        install_seccomp(SeccompPolicy{});
        BlockBackend b{f, 0, 64, 512, false};
        alignas(16) uint8_t header[16];
        v::BlkRequestHeader h{v::kBlkTWriteZeroes, 0, 0};
        std::memcpy(header, &h, sizeof h);
        v::BlkWriteZeroes wz{8, 16, 0};
        uint8_t st = 0xff;
        DescriptorChain c;
        c.readable[c.readable_count++] = iovec{header, 16};
        c.readable[c.readable_count++] = iovec{&wz, sizeof wz};
        c.writable[c.writable_count++] = iovec{&st, 1};
        execute_block_request(b, c);
        uint8_t back[24 * 512];
        bool zeroes = pread(f, back, sizeof back, 0) == ssize_t(sizeof back) && pread(f, back, 1, sizeof back) == 0;
        for (uint8_t byte : back) zeroes = zeroes && byte == 0;
        _exit(st == v::kBlkSOk && zeroes ? kPass : kFail);
    }
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    rmdir(dir);
    ASSERT_FALSE(WIFSIGNALED(wstatus)) << "killed by signal " << WTERMSIG(wstatus);
    ASSERT_TRUE(WIFEXITED(wstatus));
    if (WEXITSTATUS(wstatus) == kNoNamespace) GTEST_SKIP() << "no mount namespace and ramfs here (needs root)";
    if (WEXITSTATUS(wstatus) == kHasFallocate) GTEST_SKIP() << "this ramfs has fallocate";
    EXPECT_EQ(WEXITSTATUS(wstatus), kPass) << "WRITE_ZEROES did not leave 16 allocated zero sectors at 8";
}

}  // namespace
}  // namespace instar
