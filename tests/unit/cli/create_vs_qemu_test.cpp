// Every case runs through qemu-img 7.2 create and through instar's layer:
// stdout (the Formatting line or -o help), the first error line, warnings
// and the exit status must be identical. qemu-img writes real (small or
// sparse) files in a scratch directory; backing files are made there too.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "qemu_img_runner.h"

namespace instar::cli {
namespace {

using Args = std::vector<std::string>;

std::vector<Args> cases() {
    std::vector<Args> c;
    const char* formats[] = {"raw", "qcow2", "vmdk", "vpc", "vhdx"};
    for (std::string f : formats) {
        const std::string img = "x." + f;
        c.push_back({"-f", f, img, "64M"});
        c.push_back({"-q", "-f", f, img, "1M"});
        c.push_back({"-f", f, img});
        c.push_back({"-f", f});
        c.push_back({"-f", f, img, "1M", "extra"});
        c.push_back({"-f", f, "-o", "size=2M", img});
        c.push_back({"-f", f, "-o", "size=2M", img, "1M"});
        c.push_back({"-f", f, "-o", "size=2M,size=3M", img});
        c.push_back({"-f", f, "-o", "size=1.5", img});
        c.push_back({"-f", f, "-o", "size=99999999999999999999", img});
        c.push_back({"-f", f, "-o", "size=0x10k", img});
        c.push_back({"-f", f, "-o", "foo=1", img, "1M"});
        c.push_back({"-f", f, "-o", "foo=1,bar=2", img, "1M"});
        c.push_back({"-f", f, "-o", "id=foo", img, "1M"});
        c.push_back({"-f", f, "-o", "nocow=off,extent_size_hint=1M", img, "1M"});
        c.push_back({"-f", f, "-o", "nocow=on", img, "1M"});
        c.push_back({"-f", f, "-o", "nocow=maybe", img, "1M"});
        c.push_back({"-f", f, "-o", "extent_size_hint=8G", img, "1M"});
        c.push_back({"-f", f, "-o", "extent_size_hint=4095M", img, "1M"});
        for (const char* p : {"off", "metadata", "falloc", "full", "bogus"}) {
            c.push_back({"-f", f, "-o", std::string("preallocation=") + p, img, "1M"});
        }
        c.push_back({"-f", f, "-o", "preallocation=metadata,extent_size_hint=8G", img, "1M"});
        c.push_back({"-f", f, "-o", "preallocation=bogus,extent_size_hint=8G", img, "1M"});
        c.push_back({"-f", f, "-o", "help"});
        c.push_back({"-f", f, "-o", "?"});
        c.push_back({"-f", f, "-o", "help", img});
        c.push_back({"-f", f, "-o", "size=1M,help", img, "1M"});
        c.push_back({"-f", f, "-o", "foo=bar", "-o", "help"});
        c.push_back({"-f", f, "-o", "nohelp", img, "1M"});
        c.push_back({"-f", f, "-b", "base.qcow2", "-F", "qcow2", img, "1M"});
        c.push_back({"-f", f, "-F", "qcow2", img, "1M"});
        c.push_back({"-f", f, "-o", "backing_file=b", img, "1M"});
    }

    // Command-line syntax.
    c.push_back({"x.raw", "1G"});
    c.push_back({"x.raw", "1M", "-f", "qcow2"});
    c.push_back({"-qfqcow2", "x.qcow2", "1M"});
    c.push_back({"-fqcow2", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "--", "-x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-f", "raw", "x.raw", "1M"});
    c.push_back({"-x"});
    c.push_back({"--foo"});
    c.push_back({"-f"});
    c.push_back({"-f", "qcow2", "-o"});
    c.push_back({"-f", "qcow2", "-b"});
    c.push_back({"-f", "foo", "x", "1M"});
    c.push_back({"-f", "foo", "-o", "help"});
    c.push_back({"-f", "qcow2", "-o", "", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", ",", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "cluster_size=4k,", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "compat=1.1,,", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "cluster_size=4k", "-o", "lazy_refcounts=on", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "cluster_size=4k,cluster_size=8k", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "cluster_size=x,foo=1", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "x.qcow2", "0x10k"});
    c.push_back({"-f", "qcow2", "x.qcow2", "abc"});
    c.push_back({"-f", "qcow2", "x.qcow2", "8E"});
    c.push_back({"-f", "qcow2", "-o", "size=16E", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-o", "cluster_size=0x10k", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "size=0x10k,cluster_size=3k", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-o", "size=0x10k,foo=1", "x.qcow2"});
    c.push_back({"-f", "raw", "-o", "extent_size_hint=0x10k", "x.raw", "1M"});
    c.push_back({"-f", "vhdx", "-o", "log_size=0x100k,block_size=0x100k", "x.vhdx", "8M"});

    // qcow2 keys.
    const Args q = {"-f", "qcow2"};
    auto qo = [&](const std::string& opts, const std::string& size = "1M") {
        Args a = q;
        a.insert(a.end(), {"-o", opts, "x.qcow2", size});
        return a;
    };
    for (const char* v : {"compat=0.10", "compat=1.1", "compat=v2", "compat=v3", "compat=", "compat=0.9"}) c.push_back(qo(v));
    for (const char* v : {"cluster_size=512", "cluster_size=2M", "cluster_size=4M", "cluster_size=256", "cluster_size=3k",
                          "cluster_size=0", "cluster_size=abc", "cluster_size", "cluster_size=", "cluster_size=4k,,"}) {
        c.push_back(qo(v));
    }
    for (const char* v : {"extended_l2=on", "extended_l2=on,cluster_size=16k", "extended_l2=on,cluster_size=8k",
                          "extended_l2=on,compat=0.10", "extended_l2=on,cluster_size=8k,compat=0.10",
                          "extended_l2=on,cluster_size=8k,refcount_bits=3"}) {
        c.push_back(qo(v));
    }
    for (const char* v : {"refcount_bits=1", "refcount_bits=2", "refcount_bits=4", "refcount_bits=8", "refcount_bits=32",
                          "refcount_bits=64", "refcount_bits=3", "refcount_bits=0", "refcount_bits=128",
                          "refcount_bits=-1", "refcount_bits=0x10", "refcount_bits=010", "refcount_bits= 8",
                          "refcount_bits=16k", "refcount_bits=99999999999999999999"}) {
        c.push_back(qo(v));
    }
    for (const char* v : {"lazy_refcounts=on", "lazy_refcounts=yes", "lazy_refcounts=true", "lazy_refcounts=y",
                          "lazy_refcounts=off", "lazy_refcounts=no", "lazy_refcounts=n", "lazy_refcounts=ON",
                          "lazy_refcounts=1", "lazy_refcounts", "nolazy_refcounts"}) {
        c.push_back(qo(v));
    }
    for (const char* v : {"compression_type=zlib", "compression_type=zstd", "compression_type=lz4",
                          "compat=0.10,lazy_refcounts=on", "compat=0.10,refcount_bits=8",
                          "compat=0.10,compression_type=zstd", "compat=0.10,refcount_bits=8,lazy_refcounts=on",
                          "compat=0.10,compression_type=zstd,refcount_bits=8", "cluster_size=3k,refcount_bits=3",
                          "cluster_size=3k,preallocation=bogus", "compat=foo,compression_type=foo",
                          "extent_size_hint=8G,compat=foo", "preallocation=metadata,cluster_size=4k"}) {
        c.push_back(qo(v));
    }
    c.push_back(qo("refcount_bits=3", "3P"));
    c.push_back(qo("compat=0.10,lazy_refcounts=on", "3P"));
    for (const char* s : {"2P", "2251799813685248", "2251799813685249", "3P"}) c.push_back(qo("cluster_size=64k", s));
    c.push_back(qo("extended_l2=on", "1125899906842624"));
    c.push_back(qo("extended_l2=on", "1125899906842625"));
    c.push_back(qo("cluster_size=512", "137438953472"));
    c.push_back(qo("cluster_size=512", "137438953473"));
    c.push_back(qo("cluster_size=2M", "2305843009213693952"));
    c.push_back(qo("cluster_size=2M", "2305843009213693953"));

    // qcow2 backing files (base.qcow2: 1 GiB; sub/base2.qcow2: 2 GiB).
    c.push_back({"-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "x.qcow2", "2G"});
    c.push_back({"-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "-u", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "-u", "x.qcow2", "2G"});
    c.push_back({"-f", "qcow2", "-b", "base.qcow2", "-u", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "nonexist", "-u", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "nonexist", "-F", "qcow2", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "x.qcow2", "-F", "qcow2", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "", "-F", "qcow2", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "backing_file=base.qcow2,backing_fmt=qcow2", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-o", "backing_file=base.raw", "-b", "base.qcow2", "-F", "qcow2", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-o", "backing_fmt=raw", "-b", "base.qcow2", "-F", "qcow2", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-b", "a,b c", "-F", "raw", "-u", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-o", "backing_file=a,,b", "-F", "raw", "-u", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "it's", "-F", "raw", "-u", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "b", "-F", "foo", "-u", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "base.qcow2", "-F", "foo", "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-b", "base.raw", "-F", "raw", "x.qcow2"});
    c.push_back({"-f", "qcow2", "-b", "base2.qcow2", "-F", "qcow2", "sub/x.qcow2"});
    c.push_back({"-f", "qcow2", "-b", "base.vmdk", "-F", "vmdk", "-u", "-o", "compat=0.10", "x.qcow2", "1M"});
    for (const char* p : {"metadata", "falloc", "full"}) {
        c.push_back({"-f", "qcow2", "-u", "-b", "b", "-F", "raw", "-o", std::string("preallocation=") + p, "x.qcow2", "1M"});
        c.push_back({"-f", "qcow2", "-u", "-b", "b", "-F", "raw", "-o", std::string("preallocation=") + p + ",extended_l2=on",
                     "x.qcow2", "1M"});
    }
    c.push_back({"-f", "qcow2", "-u", "-F", "raw", "-b", std::string(1023, 'a'), "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-u", "-F", "raw", "-b", std::string(1024, 'a'), "x.qcow2", "1M"});
    c.push_back({"-f", "qcow2", "-u", "-F", "raw", "-b", std::string(1024, 'a'), "x.qcow2", "3P"});

    // vmdk (base.vmdk: 100 MiB).
    auto vo = [&](const std::string& opts, const std::string& size = "1M") {
        return Args{"-f", "vmdk", "-o", opts, "x.vmdk", size};
    };
    for (const char* v : {"subformat=monolithicSparse", "subformat=streamOptimized", "subformat=foo",
                          "subformat=MonolithicSparse", "subformat=", "adapter_type=ide", "adapter_type=lsilogic",
                          "adapter_type=buslogic", "adapter_type=legacyESX", "adapter_type=foo", "adapter_type=IDE",
                          "hwversion=6", "hwversion=4,compat6=on", "hwversion=undefined,compat6=on", "compat6=on",
                          "zeroed_grain=on", "toolsversion=abc", "hwversion=abc", "hwversion=undefined",
                          "toolsversion=undefined", "adapter_type=foo,subformat=bar,preallocation=bogus",
                          "subformat=bar,preallocation=bogus", "hwversion=4,compat6=on,adapter_type=foo",
                          "preallocation=metadata,hwversion=4,compat6=on", "subformat=streamOptimized,zeroed_grain=on"}) {
        c.push_back(vo(v));
    }
    c.push_back(vo("adapter_type=lsilogic", "1T"));
    c.push_back({"-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "x.vmdk"});
    c.push_back({"-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "-u", "x.vmdk", "1M"});
    c.push_back({"-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "-u", "-o", "subformat=streamOptimized", "x.vmdk", "1M"});
    c.push_back({"-f", "vmdk", "-b", "base.vmdk", "-F", "qcow2", "-u", "x.vmdk", "1M"});
    c.push_back({"-f", "vmdk", "-b", "base.vmdk", "-F", "VMDK", "-u", "-o", "adapter_type=foo", "x.vmdk", "1M"});
    c.push_back({"-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", "-u", "-o", "hwversion=7", "x.vmdk", "1M"});

    // vpc.
    auto po = [&](const std::string& opts, const std::string& size = "1M") {
        return Args{"-f", "vpc", "-o", opts, "x.vpc", size};
    };
    for (const char* v : {"subformat=dynamic", "subformat=fixed", "subformat=foo", "subformat=Fixed", "force_size=on",
                          "subformat=fixed,force_size=on", "subformat=bar,preallocation=bogus",
                          "subformat=bar,preallocation=metadata"}) {
        c.push_back(po(v));
    }
    for (const char* s : {"127G", "2040G", "2190433320959", "2190433320960", "2190433320961", "2041G", "4T"}) {
        c.push_back(po("subformat=dynamic", s));
        c.push_back(po("force_size=on", s));
    }
    c.push_back(po("subformat=foo", "4T"));

    // vhdx.
    auto ho = [&](const std::string& opts, const std::string& size = "8M") {
        return Args{"-f", "vhdx", "-o", opts, "x.vhdx", size};
    };
    for (const char* v : {"subformat=dynamic", "subformat=fixed", "subformat=foo", "subformat=differencing",
                          "block_size=512k", "block_size=1M", "block_size=3M", "block_size=300M", "block_size=0",
                          "block_size=1", "block_size=99999999999", "block_size=18446744073709551615",
                          "log_size=0", "log_size=1", "log_size=512k", "log_size=1536k", "log_size=4095M",
                          "log_size=4096M", "log_size=4294967295", "log_size=18446744073709551615",
                          "block_state_zero=off", "subformat=fixed,block_state_zero=off", "log_size=0,block_size=3M",
                          "subformat=bar,preallocation=bogus"}) {
        c.push_back(ho(v));
    }
    for (const char* s : {"63T", "64T", "70368744177152", "70368744177665", "65T"}) c.push_back(ho("subformat=dynamic", s));
    c.push_back(ho("log_size=0", "65T"));
    c.push_back(ho("subformat=foo", "65T"));

    // raw has neither backing keys nor a size limit of its own.
    c.push_back({"-f", "raw", "-o", "size=8E", "x.raw"});
    c.push_back({"-f", "raw", "-o", "backing_fmt=raw", "x.raw", "1M"});
    return c;
}

class CreateVsQemu : public ::testing::TestWithParam<Args> {};

TEST_P(CreateVsQemu, SameOutputAndErrors) {
    INSTAR_REQUIRE_QEMU_IMG();
    static testing::TempDir dir;
    static bool made = false;
    if (!made) {
        std::filesystem::create_directories(dir.file("sub"));
        ASSERT_EQ(testing::run_qemu_img_create(dir, {"-q", "-f", "qcow2", "base.qcow2", "1G"}).rc, 0);
        ASSERT_EQ(testing::run_qemu_img_create(dir, {"-q", "-f", "raw", "base.raw", "64M"}).rc, 0);
        ASSERT_EQ(testing::run_qemu_img_create(dir, {"-q", "-f", "vmdk", "base.vmdk", "100M"}).rc, 0);
        ASSERT_EQ(testing::run_qemu_img_create(dir, {"-q", "-f", "qcow2", "sub/base2.qcow2", "2G"}).rc, 0);
        made = true;
    }
    const BackingProbe probe = testing::table_probe({{"base.qcow2", uint64_t{1} << 30},
                                                     {"base.raw", uint64_t{64} << 20},
                                                     {"base.vmdk", uint64_t{100} << 20},
                                                     {"sub/base2.qcow2", uint64_t{2} << 30}});
    const Args& args = GetParam();
    testing::Outcome q = testing::run_qemu_img_create(dir, args);
    dir.clean_except({"base.qcow2", "base.raw", "base.vmdk", "sub"});
    std::filesystem::remove(dir.file("sub/x.qcow2"));
    testing::Outcome i = testing::run_instar_create(args, probe);

    std::string shown;
    for (const auto& a : args) shown += " [" + a.substr(0, 40) + "]";
    EXPECT_EQ(i.rc != 0, q.rc != 0) << shown << "\n qemu:   " << q << "\n instar: " << i;
    EXPECT_EQ(i.out, q.out) << shown;
    EXPECT_EQ(i.error, q.error) << shown;
    EXPECT_EQ(i.warnings, q.warnings) << shown;
}

INSTANTIATE_TEST_SUITE_P(Matrix, CreateVsQemu, ::testing::ValuesIn(cases()));

}  // namespace
}  // namespace instar::cli
