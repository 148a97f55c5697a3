// The CreateRequest each command line resolves to, and instar's own flags
// and refusals (no qemu-img equivalent, so expectations are written here).
#include <gtest/gtest.h>

#include <cstring>

#include "cli/create_args.h"
#include "cli/create_options.h"
#include "cli/formatting_line.h"
#include "host/error.h"

namespace instar::cli {
namespace {

using abi::CreateRequest;

uint64_t no_backing(const BackingQuery&) { throw Error("unexpected backing probe"); }

ResolvedCreate resolve(const std::vector<std::string>& argv, const BackingProbe& probe = no_backing) {
    std::vector<std::string> warnings;
    CreatePlan plan = plan_create(parse_create_args(argv), probe, warnings);
    return resolve_create(plan);
}

std::string error_of(const std::vector<std::string>& argv, const BackingProbe& probe = no_backing) {
    try {
        resolve(argv, probe);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string line_of(const std::vector<std::string>& argv) {
    std::vector<std::string> warnings;
    return formatting_line(plan_create(parse_create_args(argv), no_backing, warnings));
}

TEST(CreateRequest, RawDefaults) {
    ResolvedCreate r = resolve({"d.img", "1G"});
    EXPECT_EQ(r.request.format, static_cast<uint32_t>(abi::Format::raw));
    EXPECT_EQ(r.request.flags, abi::kCreateHasSize);
    EXPECT_EQ(r.request.size, uint64_t{1} << 30);
    EXPECT_EQ(r.request.preallocation, static_cast<uint32_t>(abi::Preallocation::off));
    EXPECT_EQ(r.sector_size, 65536u);
    EXPECT_STREQ(r.request.image_name, "d.img");
    EXPECT_FALSE(r.attach_backing);
    EXPECT_FALSE(r.file_hints.nocow);
    EXPECT_FALSE(r.file_hints.extent_size_hint.has_value());
}

TEST(CreateRequest, SizeIsRoundedUpToSectors) {
    // Every qemu driver rounds up to 512 bytes; the Formatting line keeps the typed value.
    EXPECT_EQ(resolve({"-f", "qcow2", "d.qcow2", "1000"}).request.size, 1024u);
    EXPECT_EQ(resolve({"-f", "raw", "d.raw", "0x10"}).request.size, 512u);
    EXPECT_EQ(line_of({"-f", "raw", "d.raw", "0x10"}), "Formatting 'd.raw', fmt=raw size=16");
}

TEST(CreateRequest, Qcow2DefaultsAndKeys) {
    ResolvedCreate d = resolve({"-f", "qcow2", "dir/d.qcow2", "64M"});
    EXPECT_EQ(d.request.qcow2_version, 3u);
    EXPECT_EQ(d.request.cluster_size, 65536u);
    EXPECT_EQ(d.request.refcount_bits, 16u);
    EXPECT_EQ(d.request.compression_type, static_cast<uint32_t>(abi::Qcow2Compression::zlib));
    EXPECT_STREQ(d.request.image_name, "d.qcow2");

    ResolvedCreate r = resolve({"-f", "qcow2", "-o",
                                "compat=0.10,cluster_size=4k,preallocation=full", "d.qcow2", "64M"});
    EXPECT_EQ(r.request.qcow2_version, 2u);
    EXPECT_EQ(r.request.cluster_size, 4096u);
    EXPECT_EQ(r.request.preallocation, static_cast<uint32_t>(abi::Preallocation::full));

    ResolvedCreate f = resolve({"-f", "qcow2", "-o", "lazy_refcounts=y,extended_l2,refcount_bits=0x40,compression_type=zstd",
                                "d.qcow2", "64M"});
    EXPECT_EQ(f.request.flags & (abi::kCreateLazyRefcounts | abi::kCreateExtendedL2),
              abi::kCreateLazyRefcounts | abi::kCreateExtendedL2);
    EXPECT_EQ(f.request.refcount_bits, 64u);
    EXPECT_EQ(f.request.compression_type, static_cast<uint32_t>(abi::Qcow2Compression::zstd));
}

TEST(CreateRequest, IndividualFlagsMapToKeysAndOptionWins) {
    ResolvedCreate r = resolve({"-f", "qcow2", "--cluster-size", "2M", "--refcount-bits", "8", "--lazy-refcounts",
                                "--extended-l2", "--compat", "1.1", "--preallocation", "metadata", "d.qcow2", "1G"});
    EXPECT_EQ(r.request.cluster_size, 2u << 20);
    EXPECT_EQ(r.request.refcount_bits, 8u);
    EXPECT_EQ(r.request.flags & abi::kCreateLazyRefcounts, abi::kCreateLazyRefcounts);
    EXPECT_EQ(r.request.flags & abi::kCreateExtendedL2, abi::kCreateExtendedL2);
    EXPECT_EQ(r.request.preallocation, static_cast<uint32_t>(abi::Preallocation::metadata));

    // Where -o and a flag set the same key, -o wins, whatever the order typed.
    ResolvedCreate w = resolve({"-f", "qcow2", "-o", "cluster_size=4k", "--cluster-size", "8k", "d.qcow2", "1G"});
    EXPECT_EQ(w.request.cluster_size, 4096u);
    // The Formatting line shows what qemu-img would for the -o equivalent.
    EXPECT_EQ(line_of({"-f", "qcow2", "--cluster-size", "8k", "--lazy-refcounts", "d.qcow2", "1G"}),
              "Formatting 'd.qcow2', fmt=qcow2 cluster_size=8192 extended_l2=off compression_type=zlib "
              "size=1073741824 lazy_refcounts=on refcount_bits=16");
    // Flags go through qemu's checks too.
    EXPECT_EQ(error_of({"-f", "qcow2", "--cluster-size", "3k", "d.qcow2", "1G"}),
              "d.qcow2: Cluster size must be a power of two between 512 and 2048k");
    EXPECT_EQ(error_of({"-f", "qcow2", "--compat", "0.10", "--lazy-refcounts", "d.qcow2", "1G"}),
              "d.qcow2: Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or "
              "greater)");
}

TEST(CreateRequest, FlagsThatDoNotApplyToTheFormat) {
    EXPECT_EQ(error_of({"-f", "vmdk", "--cluster-size", "64k", "d.vmdk", "1G"}),
              "option '--cluster-size' does not apply to file format 'vmdk'");
    EXPECT_EQ(error_of({"-f", "raw", "--subformat", "fixed", "d.raw", "1G"}),
              "option '--subformat' does not apply to file format 'raw'");
    EXPECT_EQ(error_of({"-f", "qcow2", "--grain-size", "4k", "d.qcow2", "1G"}),
              "option '--grain-size' does not apply to file format 'qcow2'");
    EXPECT_EQ(error_of({"-f", "qcow2", "--block-size", "1M", "d.qcow2", "1G"}),
              "option '--block-size' does not apply to file format 'qcow2'");
}

TEST(CreateRequest, SectorSize) {
    EXPECT_EQ(resolve({"--sector-size", "512", "d.img", "1M"}).sector_size, 512u);
    EXPECT_EQ(resolve({"--sector-size", "4k", "d.img", "1M"}).sector_size, 4096u);
    for (const char* bad : {"256", "3000", "128k", "abc", "0"}) {
        EXPECT_EQ(error_of({"--sector-size", bad, "d.img", "1M"}),
                  "--sector-size must be a power of two between 512 and 65536")
            << bad;
    }
}

TEST(CreateRequest, Vmdk) {
    ResolvedCreate d = resolve({"-f", "vmdk", "d.vmdk", "1G"});
    EXPECT_EQ(d.request.vmdk_subformat, static_cast<uint32_t>(abi::VmdkSubformat::monolithic_sparse));
    EXPECT_EQ(d.request.vmdk_adapter, static_cast<uint32_t>(abi::VmdkAdapter::ide));
    EXPECT_EQ(d.request.grain_size, 65536u);
    // Not given: empty, so the emitter applies qemu's default ("4", or "6"
    // with compat6; "2147483647").
    EXPECT_STREQ(d.request.vmdk_hwversion, "");
    EXPECT_STREQ(d.request.vmdk_toolsversion, "");
    ResolvedCreate e = resolve({"-f", "vmdk", "-o", "hwversion=11,toolsversion=12352", "d.vmdk", "1G"});
    EXPECT_STREQ(e.request.vmdk_hwversion, "11");
    EXPECT_STREQ(e.request.vmdk_toolsversion, "12352");

    ResolvedCreate c = resolve({"-f", "vmdk", "-o", "compat6,zeroed_grain=on,adapter_type=legacyESX", "--subformat",
                                "streamOptimized", "--grain-size", "4k", "d.vmdk", "1G"});
    EXPECT_STREQ(c.request.vmdk_hwversion, "");
    EXPECT_EQ(c.request.flags & (abi::kCreateCompat6 | abi::kCreateZeroedGrain),
              abi::kCreateCompat6 | abi::kCreateZeroedGrain);
    EXPECT_EQ(c.request.vmdk_subformat, static_cast<uint32_t>(abi::VmdkSubformat::stream_optimized));
    EXPECT_EQ(c.request.vmdk_adapter, static_cast<uint32_t>(abi::VmdkAdapter::legacy_esx));
    EXPECT_EQ(c.request.grain_size, 4096u);

    ResolvedCreate h = resolve({"-f", "vmdk", "-o", "hwversion=10,toolsversion=abc", "d.vmdk", "1G"});
    EXPECT_STREQ(h.request.vmdk_hwversion, "10");
    EXPECT_STREQ(h.request.vmdk_toolsversion, "abc");

    for (const char* bad : {"2k", "128k", "48k"}) {
        EXPECT_EQ(error_of({"-f", "vmdk", "--grain-size", bad, "d.vmdk", "1G"}),
                  "--grain-size must be a power of two between 4K and 64K");
    }
}

TEST(CreateRequest, VmdkBackingIsAttachedEvenWithUnsafe) {
    // vmdk copies its parent's CID into the new descriptor.
    ResolvedCreate r = resolve({"-f", "vmdk", "-u", "-b", "../p.vmdk", "-F", "vmdk", "dir/d.vmdk", "1G"});
    EXPECT_TRUE(r.attach_backing);
    EXPECT_EQ(r.request.flags & abi::kCreateBackingAttached, abi::kCreateBackingAttached);
    EXPECT_EQ(r.backing_path, "dir/../p.vmdk");
    EXPECT_STREQ(r.request.backing_file, "../p.vmdk");
    EXPECT_EQ(r.request.backing_format, static_cast<uint32_t>(abi::Format::vmdk));
}

TEST(CreateRequest, Qcow2BackingSizeComesFromTheProbe) {
    std::vector<BackingQuery> asked;
    BackingProbe probe = [&](const BackingQuery& q) {
        asked.push_back(q);
        return uint64_t{5} << 30;
    };
    ResolvedCreate r = resolve({"-f", "qcow2", "-b", "/abs/base.raw", "-F", "raw", "dir/d.qcow2"}, probe);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].path, "/abs/base.raw");
    EXPECT_EQ(asked[0].format, abi::Format::raw);
    EXPECT_EQ(r.request.size, uint64_t{5} << 30);
    EXPECT_EQ(r.request.flags & (abi::kCreateHasSize | abi::kCreateHasBacking | abi::kCreateBackingAttached),
              abi::kCreateHasSize | abi::kCreateHasBacking);
    EXPECT_FALSE(r.attach_backing);
    EXPECT_STREQ(r.request.backing_file, "/abs/base.raw");

    // -u: the backing file is never opened.
    asked.clear();
    resolve({"-f", "qcow2", "-u", "-b", "base", "-F", "qcow2", "d.qcow2", "1G"}, probe);
    EXPECT_TRUE(asked.empty());
}

TEST(CreateRequest, ProbeFailureIsReportedLikeQemu) {
    BackingProbe missing = [](const BackingQuery& q) -> uint64_t {
        throw Error("Could not open '" + q.path + "': No such file or directory");
    };
    EXPECT_EQ(error_of({"-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", "d.qcow2", "1G"}, missing),
              "d.qcow2: Could not open 'b.qcow2': No such file or directory");
}

TEST(CreateRequest, VpcAndVhdx) {
    ResolvedCreate p = resolve({"-f", "vpc", "-o", "subformat=fixed,force_size=on", "d.vhd", "1G"});
    EXPECT_EQ(p.request.vpc_subformat, static_cast<uint32_t>(abi::VpcSubformat::fixed));
    EXPECT_EQ(p.request.vpc_block_size, 2u << 20);
    EXPECT_EQ(p.request.flags & abi::kCreateForceSize, abi::kCreateForceSize);
    EXPECT_EQ(resolve({"-f", "vpc", "--block-size", "512K", "d.vhd", "1G"}).request.vpc_block_size, 512u << 10);
    for (const char* bad : {"256K", "512M", "3M"}) {
        EXPECT_EQ(error_of({"-f", "vpc", "--block-size", bad, "d.vhd", "1G"}),
                  "--block-size must be a power of two between 512K and 256M for vpc");
    }

    ResolvedCreate h = resolve({"-f", "vhdx", "d.vhdx", "1G"});
    EXPECT_EQ(h.request.vhdx_subformat, static_cast<uint32_t>(abi::VhdxSubformat::dynamic));
    EXPECT_EQ(h.request.vhdx_block_size, 8u << 20);  // qemu's choice for <= 1 GiB
    EXPECT_EQ(h.request.vhdx_log_size, uint64_t{1} << 20);
    EXPECT_EQ(h.request.flags & abi::kCreateBlockStateZero, abi::kCreateBlockStateZero);
    EXPECT_EQ(resolve({"-f", "vhdx", "d.vhdx", "1025M"}).request.vhdx_block_size, 16u << 20);
    EXPECT_EQ(resolve({"-f", "vhdx", "d.vhdx", "101G"}).request.vhdx_block_size, 32u << 20);
    EXPECT_EQ(resolve({"-f", "vhdx", "d.vhdx", "33T"}).request.vhdx_block_size, 64u << 20);
    ResolvedCreate o = resolve({"-f", "vhdx", "-o", "block_size=300M,log_size=1536k,block_state_zero=off",
                                "--subformat", "fixed", "d.vhdx", "1G"});
    EXPECT_EQ(o.request.vhdx_block_size, 256u << 20);  // capped, as qemu does
    EXPECT_EQ(o.request.vhdx_log_size, uint64_t{2} << 20);
    EXPECT_EQ(o.request.flags & abi::kCreateBlockStateZero, 0u);
    EXPECT_EQ(o.request.vhdx_subformat, static_cast<uint32_t>(abi::VhdxSubformat::fixed));
    EXPECT_EQ(resolve({"-f", "vhdx", "--block-size", "1M", "d.vhdx", "1G"}).request.vhdx_block_size, 1u << 20);
    // The flag is strict where -o block_size rounds and caps.
    EXPECT_EQ(error_of({"-f", "vhdx", "--block-size", "512K", "d.vhdx", "1G"}),
              "--block-size must be a power of two between 1M and 256M for vhdx");
}

TEST(CreateRequest, FileHints) {
    ResolvedCreate r = resolve({"-f", "qcow2", "-o", "nocow=on,extent_size_hint=2M", "d.qcow2", "1G"});
    EXPECT_TRUE(r.file_hints.nocow);
    ASSERT_TRUE(r.file_hints.extent_size_hint.has_value());
    EXPECT_EQ(*r.file_hints.extent_size_hint, 2u << 20);
}

TEST(CreateRequest, DeterministicQuietOutput) {
    std::vector<std::string> w;
    CreatePlan p = plan_create(parse_create_args({"--deterministic", "-q", "--output=json", "d", "1M"}), no_backing, w);
    EXPECT_TRUE(p.deterministic);
    EXPECT_TRUE(p.quiet);
    EXPECT_EQ(p.output, OutputFormat::json);
}

TEST(CreateRefusals, WhatInstarDoesNotDoIsAnError) {
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "encrypt.format=luks", "d.qcow2", "1G"}),
              "d.qcow2: Parameter 'encrypt.format' is not supported by instar (encrypted images)");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "encryption=off", "d.qcow2", "1G"}),
              "d.qcow2: Parameter 'encryption' is not supported by instar (encrypted images)");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "encrypt.key-secret=s", "d.qcow2", "1G"}),
              "d.qcow2: Parameter 'encrypt.key-secret' is not supported by instar (encrypted images)");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "data_file=x", "d.qcow2", "1G"}),
              "d.qcow2: Parameter 'data_file' is not supported by instar (external data files)");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "data_file_raw=on", "d.qcow2", "1G"}),
              "d.qcow2: Parameter 'data_file_raw' is not supported by instar (external data files)");
    for (const char* sub : {"monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat"}) {
        EXPECT_EQ(error_of({"-f", "vmdk", "--subformat", sub, "d.vmdk", "1G"}),
                  std::string("d.vmdk: vmdk subformat '") + sub + "' is not supported by instar yet");
    }
    EXPECT_EQ(error_of({"-f", "qcow2", "-u", "-b", "b", "-F", "qed", "d.qcow2", "1G"}),
              "d.qcow2: Backing file format 'qed' is not supported by instar");
    EXPECT_EQ(error_of({"-f", "qed", "d.qed", "1G"}), "d.qed: File format 'qed' is not supported by instar");
    EXPECT_EQ(error_of({"--object", "secret,id=s", "d", "1G"}), "--object is not supported by instar");
    // An empty version string would read as "qemu's default" in the request.
    EXPECT_EQ(error_of({"-f", "vmdk", "-o", "hwversion=", "d.vmdk", "1G"}),
              "d.vmdk: Parameter 'hwversion' must be 1 to 63 characters in instar");
    EXPECT_EQ(error_of({"-f", "vmdk", "-o", "toolsversion=" + std::string(64, '9'), "d.vmdk", "1G"}),
              "d.vmdk: Parameter 'toolsversion' must be 1 to 63 characters in instar");
    EXPECT_EQ(error_of({"-f", "qcow2", "-u", "-F", "raw", "-b", std::string(1025, 'b'), "-o", "cluster_size=2M",
                        "d.qcow2", "1G"})
                  .substr(0, 40),
              "d.qcow2: Could not assign backing file '");
    EXPECT_EQ(error_of({std::string(256, 'n'), "1G"}), std::string(256, 'n') + ": File name too long");
}

TEST(CreateRefusals, VmdkSizesQemuWouldCorrupt) {
    // qemu-img 7.2 writes a bare 64 KiB header from 2^23 grain tables on.
    const uint64_t last_good = ((uint64_t{1} << 23) - 1) * 512 * 65536;
    EXPECT_EQ(resolve({"-f", "vmdk", "d.vmdk", std::to_string(last_good)}).request.size, last_good);
    EXPECT_EQ(error_of({"-f", "vmdk", "d.vmdk", std::to_string(last_good + 1)}),
              "d.vmdk: The image size is too large for file format 'vmdk'");
    EXPECT_EQ(error_of({"-f", "vmdk", "d.vmdk", "1E"}), "d.vmdk: The image size is too large for file format 'vmdk'");
}

TEST(CreateErrors, QemuWordingWithoutQemu) {
    // The same checks the live matrix compares, pinned for machines without qemu-img.
    EXPECT_EQ(error_of({"-f", "qcow2", "d.qcow2"}), "d.qcow2: Image creation needs a size parameter");
    EXPECT_EQ(error_of({"-f", "raw", "-b", "b", "-F", "raw", "d", "1G"}),
              "d: Backing file not supported for file format 'raw'");
    EXPECT_EQ(error_of({"-f", "vpc", "-F", "raw", "d", "1G"}), "d: Backing file format not supported for file format 'vpc'");
    EXPECT_EQ(error_of({"-f", "qcow2", "-u", "-b", "b", "d", "1G"}), "d: Backing file specified without backing format");
    EXPECT_EQ(error_of({"-f", "qcow2", "-F", "raw", "d", "1G"}), "d: Backing format cannot be used without backing file");
    EXPECT_EQ(error_of({"-f", "qcow2", "-u", "-b", "d", "-F", "raw", "d", "1G"}),
              "d: Error: Trying to create an image with the same filename as the backing file");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "size=1G", "d", "1G"}), "d: The image size must be specified only once");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "refcount_bits=3", "d", "1G"}),
              "d: Refcount width must be a power of two and may not exceed 64 bits");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "compat=0.10,refcount_bits=8", "d", "1G"}),
              "d: Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or "
              "greater)");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "extended_l2=on,cluster_size=8k", "d", "1G"}),
              "d: Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
    EXPECT_EQ(error_of({"-f", "qcow2", "-u", "-b", "b", "-F", "raw", "-o", "preallocation=falloc", "d", "1G"}),
              "d: Backing file and preallocation can only be used at the same time if extended_l2 is on");
    EXPECT_EQ(error_of({"-f", "qcow2", "d", "3P"}),
              "d: The image size is too large for file format 'qcow2' (try using a larger cluster size)");
    EXPECT_EQ(error_of({"-f", "vmdk", "-u", "-b", "b", "-F", "qcow2", "d", "1G"}), "d: backing_file must be a vmdk image");
    EXPECT_EQ(error_of({"-f", "vmdk", "-o", "hwversion=4,compat6=on", "d", "1G"}),
              "d: compat6 cannot be enabled with hwversion set");
    EXPECT_EQ(error_of({"-f", "vmdk", "-o", "preallocation=metadata", "d", "1G"}),
              "d: Unsupported preallocation mode: metadata");
    EXPECT_EQ(error_of({"-f", "vpc", "d", "2041G"}), "d: The image size is too large for file format 'vpc'");
    EXPECT_EQ(error_of({"-f", "vhdx", "d", "65T"}), "d: Image size too large; max of 64TB");
    EXPECT_EQ(error_of({"-f", "vhdx", "-o", "log_size=4G", "d", "1G"}), "d: Log size must be smaller than 4 GB");
    EXPECT_EQ(error_of({"-f", "vhdx", "-o", "block_size=3M", "d", "1G"}), "d: Block size must be a power of two");
    EXPECT_EQ(error_of({"-f", "raw", "-o", "foo=1", "d", "1G"}), "d: Invalid parameter 'foo'");
    EXPECT_EQ(error_of({"-f", "raw", "-o", "cluster_size=4k", "d", "1G"}), "d: Invalid parameter 'cluster_size'");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "lazy_refcounts=1", "d", "1G"}),
              "d: Parameter 'lazy_refcounts' expects 'on' or 'off'");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "refcount_bits=16k", "d", "1G"}),
              "d: Parameter 'refcount_bits' expects a number");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "cluster_size=x", "d", "1G"}),
              "d: Parameter 'cluster_size' expects a non-negative number below 2^64");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "size=16E", "d"}), "d: Value '16E' is out of range for parameter 'size'");
    EXPECT_EQ(error_of({"-f", "qcow2", "-o", "compat=0.9", "d", "1G"}),
              "d: Parameter 'version' does not accept value '0.9'");
    EXPECT_EQ(error_of({"-f", "foo", "d", "1G"}), "d: Unknown file format 'foo'");
    EXPECT_EQ(error_of({}), "Expecting image file name");
    EXPECT_EQ(error_of({"d", "1G", "x"}), "Unexpected argument: x");
}

}  // namespace
}  // namespace instar::cli
