// The qcow2 emitter against the real qemu-img 7.2: for every option set
// both produce the same file, byte for byte, and qemu accepts ours.
//
// Masked fields: none. qemu writes no random or time-dependent value into
// a new qcow2 image, so whole files are compared.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "formats/qcow2/qcow2_create.h"
#include "memory_image.h"
#include "qcow2_test_util.h"

namespace instar::testing::qcow2 {
namespace {

using abi::Format;
using abi::Preallocation;
using formats::Status;

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;
constexpr uint64_t TiB = 1024 * GiB;
// Above this the emitted image goes to a sparse file instead of memory.
constexpr uint64_t kMemorySinkLimit = 256 * MiB;

std::string size_label(uint64_t s) {
    if (s >= TiB && s % TiB == 0) return std::to_string(s / TiB) + "T";
    if (s >= GiB && s % GiB == 0) return std::to_string(s / GiB) + "G";
    if (s >= MiB && s % MiB == 0) return std::to_string(s / MiB) + "M";
    if (s >= KiB && s % KiB == 0) return std::to_string(s / KiB) + "K";
    return std::to_string(s);
}

std::string case_name(const Qcow2Options& o) {
    std::string n = "s" + size_label(o.size) + "_c" + size_label(o.cluster_size) + "_r" +
                    std::to_string(o.refcount_bits) + "_v" + std::to_string(o.version) + "_" + prealloc_name(o.prealloc);
    if (o.extended_l2) n += "_extl2";
    if (o.lazy_refcounts) n += "_lazy";
    if (o.zstd) n += "_zstd";
    if (!o.backing.empty()) {
        n += "_b" + std::to_string(o.backing.size());
        if (o.backing_format != Format::none) n += std::string("_") + abi::format_name(o.backing_format);
    }
    return n;
}

Qcow2Options opts(uint64_t size, uint32_t cluster, uint32_t refcount_bits = 16, Preallocation p = Preallocation::off) {
    Qcow2Options o;
    o.size = size;
    o.cluster_size = cluster;
    o.refcount_bits = refcount_bits;
    o.prealloc = p;
    return o;
}

std::vector<Qcow2Options> sizes_and_clusters() {
    std::vector<Qcow2Options> v;
    for (uint64_t size : {uint64_t(0), MiB, 16 * MiB, 64 * MiB, GiB, 2 * TiB, uint64_t(1000000)}) {
        for (uint32_t bits = 9; bits <= 21; ++bits) {
            // qemu refuses these two: their L1 table would exceed 32 MiB.
            if (size == 2 * TiB && bits < 11) continue;
            v.push_back(opts(size, 1u << bits));
        }
    }
    return v;
}

std::vector<Qcow2Options> refcount_widths() {
    std::vector<Qcow2Options> v;
    for (uint32_t rb : {1u, 2u, 4u, 8u, 16u, 32u, 64u}) {
        for (uint32_t cluster : {512u, 4096u, 65536u}) {
            // Small clusters with wide refcounts make qemu add refcount
            // blocks and move the refcount table while placing the L1.
            v.push_back(opts(cluster == 512 ? 16 * GiB : 2 * TiB, cluster, rb));
            v.push_back(opts(16 * MiB, cluster, rb, Preallocation::metadata));
            v.push_back(opts(3 * MiB, cluster, rb, Preallocation::falloc));
        }
    }
    return v;
}

std::vector<Qcow2Options> preallocations() {
    std::vector<Qcow2Options> v;
    for (Preallocation p : {Preallocation::metadata, Preallocation::falloc, Preallocation::full}) {
        for (uint32_t cluster : {512u, 4096u, 65536u, 2u * 1024 * 1024}) {
            for (uint64_t size : {uint64_t(0), MiB, uint64_t(1000000), 64 * MiB}) v.push_back(opts(size, cluster, 16, p));
        }
        v.push_back(opts(8 * MiB, 512, 64, p));
    }
    // Large enough to need more than one L2 table and a sparse output file.
    v.push_back(opts(GiB, 65536, 16, Preallocation::metadata));
    v.push_back(opts(GiB, 65536, 16, Preallocation::falloc));
    return v;
}

std::vector<Qcow2Options> extended_l2() {
    std::vector<Qcow2Options> v;
    for (uint32_t cluster : {16384u, 65536u, 2u * 1024 * 1024}) {
        for (Preallocation p : {Preallocation::off, Preallocation::metadata, Preallocation::falloc, Preallocation::full}) {
            for (uint64_t size : {uint64_t(1000000), 16 * MiB}) {
                Qcow2Options o = opts(size, cluster, 16, p);
                o.extended_l2 = true;
                v.push_back(o);
            }
        }
    }
    return v;
}

std::vector<Qcow2Options> features() {
    std::vector<Qcow2Options> v;
    for (Preallocation p : {Preallocation::off, Preallocation::metadata, Preallocation::falloc}) {
        for (uint32_t cluster : {4096u, 65536u}) {
            Qcow2Options lazy = opts(16 * MiB, cluster, 16, p);
            lazy.lazy_refcounts = true;
            v.push_back(lazy);
            Qcow2Options zstd = opts(16 * MiB, cluster, 16, p);
            zstd.zstd = true;
            v.push_back(zstd);
            Qcow2Options v2 = opts(16 * MiB, cluster, 16, p);
            v2.version = 2;
            v.push_back(v2);
        }
    }
    Qcow2Options all = opts(uint64_t(1000000), 65536, 64, Preallocation::metadata);
    all.lazy_refcounts = all.zstd = all.extended_l2 = true;
    v.push_back(all);
    Qcow2Options v2_small = opts(GiB, 512);
    v2_small.version = 2;
    v.push_back(v2_small);
    return v;
}

std::vector<Qcow2Options> backing_files() {
    std::vector<Qcow2Options> v;
    auto with = [](Qcow2Options o, std::string name, Format f) {
        o.backing = std::move(name);
        o.backing_format = f;
        return o;
    };
    for (Format f : {Format::raw, Format::qcow2, Format::vmdk, Format::vpc,
                            Format::vhdx}) {
        v.push_back(with(opts(GiB, 65536), "base.img", f));
    }
    v.push_back(with(opts(MiB, 512), "../images/base.qcow2", Format::qcow2));
    Qcow2Options v2 = opts(MiB, 4096);
    v2.version = 2;
    v.push_back(with(v2, "base.raw", Format::raw));
    v.push_back(with(opts(MiB, 65536), std::string(1023, 'b'), Format::vhdx));
    // The longest name that still fits a 512-byte header cluster.
    v.push_back(with(opts(MiB, 512), std::string(512 - 112 - 16 - 8, 'n'), Format::raw));
    for (Preallocation p : {Preallocation::metadata, Preallocation::falloc, Preallocation::full}) {
        Qcow2Options o = opts(uint64_t(1000000), 32768, 16, p);
        o.extended_l2 = true;
        v.push_back(with(o, "/srv/images/base.qcow2", Format::qcow2));
    }
    return v;
}

class Qcow2MatchesQemu : public ::testing::TestWithParam<Qcow2Options> {};

TEST_P(Qcow2MatchesQemu, SameBytesAndQemuAcceptsIt) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Qcow2Options& o = GetParam();
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    const std::string reference = dir.file("qemu.qcow2");
    const std::string ours = dir.file("instar.qcow2");

    CommandResult created = run_command(qemu_create_command(o, reference));
    ASSERT_EQ(created.status, 0) << created.output;
    const uint64_t reference_size = file_size(reference);

    auto req = make_request(o);
    EmitRun run;
    uint64_t written = 0;
    std::vector<MemorySink::Prealloc> preallocations;
    if (reference_size <= kMemorySinkLimit) {
        MemorySink sink;
        run = emit(*req, o.size, sink);
        ASSERT_EQ(run.status, formats::kOk);
        ASSERT_TRUE(write_file(ours, sink.bytes));
        written = sink.written;
        preallocations = sink.preallocations;
    } else {
        FileSink sink(ours);
        ASSERT_TRUE(sink.ok());
        run = emit(*req, o.size, sink);
        ASSERT_EQ(run.status, formats::kOk);
        written = sink.written;
        preallocations = sink.preallocations;
    }

    EXPECT_EQ(compare_files(ours, reference), "");
    EXPECT_EQ(run.out.file_size, reference_size);
    EXPECT_EQ(run.out.virtual_size, (o.size + 511) / 512 * 512);
    EXPECT_EQ(run.out.unit_size, o.cluster_size);
    EXPECT_EQ(run.out.metadata_bytes, written);

    // falloc/full leave the data area to the output device, once.
    const bool data_prealloc = o.prealloc == Preallocation::falloc || o.prealloc == Preallocation::full;
    if (data_prealloc && o.size > 0) {
        ASSERT_EQ(preallocations.size(), 1u);
        EXPECT_EQ(preallocations[0].full, o.prealloc == Preallocation::full);
        // L2 tables qemu places after the data area may follow it.
        EXPECT_LE(preallocations[0].offset + preallocations[0].len, reference_size);
        EXPECT_GE(preallocations[0].len, (o.size + o.cluster_size - 1) / o.cluster_size * o.cluster_size);
    } else {
        EXPECT_TRUE(preallocations.empty());
    }

    // `backing=` keeps qemu from opening a backing file that is not there.
    CommandResult check = run_command(qemu_img() + " check --image-opts " +
                                      shell_quote("driver=qcow2,file.filename=" + ours + ",backing="));
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find("No errors were found"), std::string::npos) << check.output;
    CommandResult info = run_command(qemu_img() + " info --output=json -f qcow2 " + shell_quote(ours));
    EXPECT_EQ(info.status, 0) << info.output;
    EXPECT_NE(info.output.find("\"virtual-size\": " + std::to_string(run.out.virtual_size) + ","), std::string::npos)
        << info.output;
}

auto name_of = [](const ::testing::TestParamInfo<Qcow2Options>& info) { return case_name(info.param); };

INSTANTIATE_TEST_SUITE_P(SizesAndClusters, Qcow2MatchesQemu, ::testing::ValuesIn(sizes_and_clusters()), name_of);
INSTANTIATE_TEST_SUITE_P(RefcountWidths, Qcow2MatchesQemu, ::testing::ValuesIn(refcount_widths()), name_of);
INSTANTIATE_TEST_SUITE_P(Preallocation, Qcow2MatchesQemu, ::testing::ValuesIn(preallocations()), name_of);
INSTANTIATE_TEST_SUITE_P(ExtendedL2, Qcow2MatchesQemu, ::testing::ValuesIn(extended_l2()), name_of);
INSTANTIATE_TEST_SUITE_P(Features, Qcow2MatchesQemu, ::testing::ValuesIn(features()), name_of);
INSTANTIATE_TEST_SUITE_P(BackingFiles, Qcow2MatchesQemu, ::testing::ValuesIn(backing_files()), name_of);

// Option sets qemu-img refuses: the emitter refuses them too, with the
// status the host turns into the matching message, and writes nothing.
struct Refusal {
    const char* name;
    Qcow2Options options;
    Status expected;
};

std::vector<Refusal> refusals() {
    auto o = [](uint64_t size, uint32_t cluster) { return opts(size, cluster); };
    std::vector<Refusal> v;
    Qcow2Options x;
    x = o(MiB, 65536), x.version = 2, x.refcount_bits = 8;
    v.push_back({"v2_refcount_bits_8", x, Status::invalid_option});
    x = o(MiB, 65536), x.version = 2, x.lazy_refcounts = true;
    v.push_back({"v2_lazy_refcounts", x, Status::invalid_option});
    x = o(MiB, 65536), x.version = 2, x.extended_l2 = true;
    v.push_back({"v2_extended_l2", x, Status::invalid_option});
    x = o(MiB, 65536), x.version = 2, x.zstd = true;
    v.push_back({"v2_zstd", x, Status::invalid_option});
    x = o(MiB, 8192), x.extended_l2 = true;
    v.push_back({"extended_l2_cluster_8k", x, Status::invalid_option});
    v.push_back({"cluster_256", o(MiB, 256), Status::invalid_option});
    v.push_back({"cluster_4M", o(MiB, 4u << 20), Status::invalid_option});
    v.push_back({"cluster_3000", o(MiB, 3000), Status::invalid_option});
    x = o(MiB, 65536), x.refcount_bits = 128;
    v.push_back({"refcount_bits_128", x, Status::invalid_option});
    x = o(MiB, 65536), x.refcount_bits = 3;
    v.push_back({"refcount_bits_3", x, Status::invalid_option});
    x = o(MiB, 65536), x.prealloc = Preallocation::metadata, x.backing = "base", x.backing_format = Format::raw;
    v.push_back({"backing_with_prealloc_no_extl2", x, Status::invalid_option});
    v.push_back({"l1_too_large_512", o(2 * TiB, 512), Status::size_out_of_range});
    v.push_back({"l1_too_large_1k", o(2 * TiB, 1024), Status::size_out_of_range});
    v.push_back({"l1_limit_plus_one_512", o(128 * GiB + 512, 512), Status::size_out_of_range});
    v.push_back({"l1_too_large_2m", o(3ull << 60, 2u << 20), Status::size_out_of_range});
    x = o(MiB, 65536), x.backing = std::string(1024, 'p'), x.backing_format = Format::raw;
    v.push_back({"backing_name_1024", x, Status::backing_path_too_long});
    x = o(MiB, 512), x.backing = std::string(512 - 112 - 16 - 8 + 1, 'n'), x.backing_format = Format::raw;
    v.push_back({"backing_name_overflows_header", x, Status::backing_path_too_long});
    return v;
}

class Qcow2Refuses : public ::testing::TestWithParam<Refusal> {};

TEST_P(Qcow2Refuses, LikeQemuAndWritesNothing) {
    const Refusal& r = GetParam();
    if (!qemu_img().empty()) {
        TempDir dir;
        CommandResult created = run_command(qemu_create_command(r.options, dir.file("x.qcow2")));
        EXPECT_NE(created.status, 0) << "qemu-img accepted " << r.name;
    }
    auto req = make_request(r.options);
    MemorySink sink;
    EmitRun run = emit(*req, r.options.size, sink);
    EXPECT_EQ(run.status, r.expected);
    EXPECT_EQ(sink.written, 0u);
    EXPECT_TRUE(sink.bytes.empty());
    EXPECT_TRUE(sink.preallocations.empty());
}

INSTANTIATE_TEST_SUITE_P(QemuRefuses, Qcow2Refuses, ::testing::ValuesIn(refusals()),
                         [](const ::testing::TestParamInfo<Refusal>& info) { return std::string(info.param.name); });

// Requests the host should never build; the emitter still refuses them.
TEST(Qcow2Emit, RefusesMalformedRequests) {
    const Qcow2Options base = opts(MiB, 65536);
    struct Case {
        const char* what;
        void (*mutate)(abi::CreateRequest&);
        Status expected;
    };
    const Case cases[] = {
        {"other format", [](abi::CreateRequest& r) { r.format = uint32_t(abi::Format::vmdk); },
         Status::invalid_option},
        {"vmdk flag", [](abi::CreateRequest& r) { r.flags |= abi::kCreateCompat6; }, Status::invalid_option},
        {"vpc flag", [](abi::CreateRequest& r) { r.flags |= abi::kCreateForceSize; }, Status::invalid_option},
        {"no size, no backing", [](abi::CreateRequest& r) { r.flags &= ~abi::kCreateHasSize; }, Status::invalid_option},
        {"version 4", [](abi::CreateRequest& r) { r.qcow2_version = 4; }, Status::invalid_option},
        {"version 1", [](abi::CreateRequest& r) { r.qcow2_version = 1; }, Status::invalid_option},
        {"cluster 0", [](abi::CreateRequest& r) { r.cluster_size = 0; }, Status::invalid_option},
        {"refcount bits 0", [](abi::CreateRequest& r) { r.refcount_bits = 0; }, Status::invalid_option},
        {"preallocation 4", [](abi::CreateRequest& r) { r.preallocation = 4; }, Status::invalid_option},
        {"compression 2", [](abi::CreateRequest& r) { r.compression_type = 2; }, Status::invalid_option},
        {"backing format without file",
         [](abi::CreateRequest& r) { r.backing_format = uint32_t(Format::qcow2); }, Status::invalid_option},
        {"backing format 9",
         [](abi::CreateRequest& r) {
             r.flags |= abi::kCreateHasBacking;
             std::strcpy(r.backing_file, "base");
             r.backing_format = 9;
         },
         Status::invalid_option},
        {"empty backing name",
         [](abi::CreateRequest& r) {
             r.flags |= abi::kCreateHasBacking;
             r.backing_format = uint32_t(Format::raw);
         },
         Status::invalid_option},
        {"unterminated backing name",
         [](abi::CreateRequest& r) {
             r.flags |= abi::kCreateHasBacking;
             std::memset(r.backing_file, 'x', sizeof(r.backing_file));
             r.backing_format = uint32_t(Format::raw);
         },
         Status::invalid_option},
        {"attached backing without backing", [](abi::CreateRequest& r) { r.flags |= abi::kCreateBackingAttached; },
         Status::invalid_option},
    };
    for (const Case& c : cases) {
        auto req = make_request(base);
        c.mutate(*req);
        MemorySink sink;
        EmitRun run = emit(*req, base.size, sink);
        EXPECT_EQ(run.status, c.expected) << c.what;
        EXPECT_EQ(sink.written, 0u) << c.what;
    }
    MemorySink sink;
    formats::EmitInput in{nullptr, MiB, false, 0};
    formats::EmitOutput out{};
    std::vector<uint8_t> mem(1 << 20);
    formats::Arena arena(mem.data(), mem.size());
    EXPECT_EQ(formats::qcow2_emit(in, sink, arena, out), Status::invalid_option);
}

TEST(Qcow2Emit, SizeFromBackingFileIsRoundedLikeQemu) {
    // With -b and no size the host passes the backing file's size; qemu
    // rounds it up to whole sectors like any other size.
    Qcow2Options o = opts(0, 65536);
    o.backing = "base.raw";
    o.backing_format = Format::raw;
    auto req = make_request(o);
    req->flags &= ~abi::kCreateHasSize;
    MemorySink sink;
    EmitRun run = emit(*req, 1000001, sink);
    ASSERT_EQ(run.status, formats::kOk);
    EXPECT_EQ(run.out.virtual_size, 1000448u);
}

TEST(Qcow2Emit, BackingWithoutFormat) {
    // The request form allows a backing file without a format (qemu-img
    // 7.2 itself insists on -F): the header then simply has no
    // backing-format extension, which qemu reads back as "probe it".
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    Qcow2Options o = opts(MiB, 65536);
    o.backing = "base.img";
    EXPECT_NE(run_command(qemu_create_command(o, dir.file("qemu.qcow2"))).status, 0)
        << "qemu-img now accepts -b without -F: compare bytes instead";
    auto req = make_request(o);
    MemorySink sink;
    EmitRun run = emit(*req, o.size, sink);
    ASSERT_EQ(run.status, formats::kOk);
    const std::string ours = dir.file("instar.qcow2");
    ASSERT_TRUE(write_file(ours, sink.bytes));
    CommandResult info = run_command(qemu_img() + " info --output=json -f qcow2 " + shell_quote(ours));
    ASSERT_EQ(info.status, 0) << info.output;
    EXPECT_NE(info.output.find("\"backing-filename\": \"base.img\""), std::string::npos) << info.output;
    EXPECT_EQ(info.output.find("backing-filename-format"), std::string::npos) << info.output;
    CommandResult check = run_command(qemu_img() + " check --image-opts " +
                                      shell_quote("driver=qcow2,file.filename=" + ours + ",backing="));
    EXPECT_EQ(check.status, 0) << check.output;

    // Apart from the extension it is the image qemu makes with -F raw.
    Qcow2Options with_format = o;
    with_format.backing_format = Format::raw;
    auto req2 = make_request(with_format);
    MemorySink sink2;
    ASSERT_EQ(emit(*req2, o.size, sink2).status, formats::kOk);
    ASSERT_EQ(sink.bytes.size(), sink2.bytes.size());
    EXPECT_EQ(std::vector<uint8_t>(sink.bytes.begin() + 65536, sink.bytes.end()),
              std::vector<uint8_t>(sink2.bytes.begin() + 65536, sink2.bytes.end()));
}

TEST(Qcow2Emit, StaysWithinGuestScratch) {
    // The largest L1 table qemu allows (32 MiB) is all zero without
    // preallocation and is never built in memory.
    auto req = make_request(opts(2 * TiB, 2048));
    MemorySink sink;
    EmitRun run = emit(*req, 2 * TiB, sink);
    ASSERT_EQ(run.status, formats::kOk);
    EXPECT_LT(sink.written, 4 * MiB);
    EXPECT_EQ(run.out.file_size, sink.bytes.size());
}

TEST(Qcow2Emit, RefusesWhatDoesNotFitScratch) {
    // 32 GiB of preallocated metadata with 512-byte clusters needs a
    // million L1 entries and their mappings.
    auto req = make_request(opts(32 * GiB, 512, 16, Preallocation::metadata));
    MemorySink sink;
    EmitRun run = emit(*req, 32 * GiB, sink, 8 * MiB);
    EXPECT_EQ(run.status, Status::scratch_exceeded);
    EXPECT_EQ(sink.written, 0u);
    EXPECT_TRUE(sink.bytes.empty());

    auto small = make_request(opts(MiB, 65536));
    MemorySink sink2;
    EXPECT_EQ(emit(*small, MiB, sink2, 64 * KiB).status, Status::scratch_exceeded);
    EXPECT_EQ(sink2.written, 0u);
}

TEST(Qcow2Emit, ReportsSinkFailures) {
    struct FailingSink : formats::ImageSink {
        bool write(uint64_t, const void*, size_t) override { return false; }
        bool preallocate(uint64_t, uint64_t, bool) override { return true; }
        bool set_size(uint64_t) override { return true; }
    } failing;
    auto req = make_request(opts(MiB, 65536));
    EXPECT_EQ(emit(*req, MiB, failing).status, Status::write_failed);
}

}  // namespace
}  // namespace instar::testing::qcow2
