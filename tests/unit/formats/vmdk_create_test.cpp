// vmdk_emit against the live qemu-img 7.2: same options, same bytes.
//
// The only random field qemu writes is the descriptor's CID (g_random_int).
// Rather than masking it, each test reads qemu's CID and feeds it to the
// emitter as entropy bytes 0..3, so the whole file is compared with nothing
// masked. parentCID is copied from the parent, not random.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "formats/vmdk/vmdk_create.h"
#include "formats/vmdk/vmdk_probe.h"
#include "memory_image.h"
#include "vmdk_test_support.h"

namespace instar::testing::vmdk {
namespace {

using abi::CreateRequest;
using formats::EmitInput;
using formats::EmitOutput;
using formats::Status;

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB, TiB = 1024 * GiB;

enum class Backing { none, relative, absolute };

struct Case {
    const char* name = "";
    std::string size_arg;  // as typed for qemu-img; "" = inherit from the backing file
    uint64_t size = 0;
    abi::VmdkSubformat subformat = abi::VmdkSubformat::monolithic_sparse;
    abi::VmdkAdapter adapter = abi::VmdkAdapter::ide;
    std::string hwversion;
    std::string toolsversion;
    bool compat6 = false;
    bool zeroed_grain = false;
    abi::Preallocation prealloc = abi::Preallocation::off;
    Backing backing = Backing::none;
    bool qemu_opens = true;  // qemu-img can open its own result
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

const char* adapter_name(abi::VmdkAdapter a) {
    switch (a) {
        case abi::VmdkAdapter::ide: return "ide";
        case abi::VmdkAdapter::buslogic: return "buslogic";
        case abi::VmdkAdapter::lsilogic: return "lsilogic";
        case abi::VmdkAdapter::legacy_esx: return "legacyESX";
    }
    return "?";
}

std::string qemu_options(const Case& c) {
    std::vector<std::string> o;
    if (c.subformat == abi::VmdkSubformat::stream_optimized) o.push_back("subformat=streamOptimized");
    if (c.adapter != abi::VmdkAdapter::ide) o.push_back(std::string("adapter_type=") + adapter_name(c.adapter));
    if (!c.hwversion.empty()) o.push_back("hwversion=" + c.hwversion);
    if (!c.toolsversion.empty()) o.push_back("toolsversion=" + c.toolsversion);
    if (c.compat6) o.push_back("compat6=on");
    if (c.zeroed_grain) o.push_back("zeroed_grain=on");
    if (c.prealloc == abi::Preallocation::falloc) o.push_back("preallocation=falloc");
    if (c.prealloc == abi::Preallocation::full) o.push_back("preallocation=full");
    std::string s;
    for (const auto& x : o) s += (s.empty() ? "" : ",") + x;
    return s.empty() ? "" : " -o " + shell_quote(s);
}

CreateRequest request_for(const Case& c, uint64_t size) {
    CreateRequest r = default_request(size);
    if (c.size_arg.empty()) r.flags &= ~abi::kCreateHasSize;
    r.vmdk_subformat = uint32_t(c.subformat);
    r.vmdk_adapter = uint32_t(c.adapter);
    std::snprintf(r.vmdk_hwversion, sizeof(r.vmdk_hwversion), "%s", c.hwversion.c_str());
    std::snprintf(r.vmdk_toolsversion, sizeof(r.vmdk_toolsversion), "%s", c.toolsversion.c_str());
    if (c.compat6) r.flags |= abi::kCreateCompat6;
    if (c.zeroed_grain) r.flags |= abi::kCreateZeroedGrain;
    r.preallocation = uint32_t(c.prealloc);
    return r;
}

class VmdkCreateMatchesQemu : public ::testing::TestWithParam<Case> {};

TEST_P(VmdkCreateMatchesQemu, WholeFileIdentical) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Case& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());

    std::string backing_arg;
    std::string backing_typed;
    uint64_t size = c.size;
    uint32_t parent_cid = 0;
    if (c.backing != Backing::none) {
        const std::string base = dir.file("base.vmdk");
        auto made = run_command("qemu-img create -q -f vmdk " + shell_quote(base) + " 3146240");  // 3 MiB + 512
        ASSERT_EQ(made.status, 0) << made.output;
        // The parent's CID as the guest op gets it: through our own probe.
        MemorySource src(read_file(base));
        Scratch scratch;
        formats::BasicImageInfo info{};
        ASSERT_EQ(formats::vmdk_read_basic(src, scratch.arena, info), formats::kOk);
        uint32_t qemu_parent_cid = 0;
        ASSERT_TRUE(qemu_cid(src.bytes, qemu_parent_cid));
        ASSERT_TRUE(info.has_cid);
        ASSERT_EQ(info.cid, qemu_parent_cid);
        parent_cid = info.cid;
        backing_typed = c.backing == Backing::relative ? "base.vmdk" : base;
        backing_arg = " -b " + shell_quote(backing_typed) + " -F vmdk";
        if (c.size_arg.empty()) size = info.virtual_size;
    }

    const std::string ref = dir.file("ref.vmdk");
    auto made = run_command("qemu-img create -q -f vmdk" + qemu_options(c) + backing_arg + " " + shell_quote(ref) +
                    (c.size_arg.empty() ? "" : " " + c.size_arg));
    ASSERT_EQ(made.status, 0) << made.output;
    const std::vector<uint8_t> expected = read_file(ref);
    uint32_t cid = 0;
    ASSERT_TRUE(qemu_cid(expected, cid)) << "no CID line where qemu puts it";

    CreateRequest r = request_for(c, size);
    set_cid(r, cid);
    if (c.backing != Backing::none) {
        r.flags |= abi::kCreateHasBacking | abi::kCreateBackingAttached;
        r.backing_format = uint32_t(abi::Format::vmdk);
        std::snprintf(r.backing_file, sizeof(r.backing_file), "%s", backing_typed.c_str());
    }
    EmitInput in{&r, size, c.backing != Backing::none, parent_cid};
    MemorySink sink;
    Scratch scratch;
    EmitOutput out{};
    ASSERT_EQ(formats::vmdk_emit(in, sink, scratch.arena, out), formats::kOk);

    ASSERT_EQ(sink.bytes.size(), expected.size());
    const long long diff = first_difference(sink.bytes, expected);
    ASSERT_EQ(diff, -1) << "first difference at byte " << diff;
    EXPECT_TRUE(sink.preallocations.empty());  // qemu preallocates nothing for vmdk

    const uint64_t rounded = (size + 511) / 512 * 512;
    EXPECT_EQ(out.virtual_size, rounded);
    EXPECT_EQ(out.file_size, expected.size());
    EXPECT_EQ(out.unit_size, 65536u);
    EXPECT_EQ(out.metadata_bytes, sink.written);

    if (!c.qemu_opens) return;
    // Our file, on disk, through qemu's own consistency check and info.
    const std::string ours = dir.file("ours.vmdk");
    ASSERT_TRUE(write_sparse(ours, sink.bytes));
    auto check = run_command("qemu-img check " + shell_quote(ours));
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find("No errors were found"), std::string::npos) << check.output;
    auto info = run_command("qemu-img info --output=json " + shell_quote(ours));
    ASSERT_EQ(info.status, 0) << info.output;
    uint64_t vs = 0;
    ASSERT_TRUE(json_number(info.output, "virtual-size", vs)) << info.output;
    EXPECT_EQ(vs, rounded);
}

Case sized(const char* name, const char* arg, uint64_t size) {
    Case c;
    c.name = name;
    c.size_arg = arg;
    c.size = size;
    return c;
}

std::vector<Case> matrix() {
    std::vector<Case> v = {
        sized("1M", "1M", 1 * MiB),
        sized("16M", "16M", 16 * MiB),
        sized("64M", "64M", 64 * MiB),
        sized("1G", "1G", 1 * GiB),
        sized("2T", "2T", 2 * TiB),
        sized("odd_1", "1", 1),
        sized("odd_511", "511", 511),
        sized("odd_513", "513", 513),
        sized("odd_1000000", "1000000", 1000000),
        sized("odd_1G_plus_1", "1073741825", 1 * GiB + 1),
        // One grain table exactly full, and one grain into the next.
        sized("one_full_table", "32M", 32 * MiB),
        sized("table_plus_grain", "33619968", 32 * MiB + 64 * KiB),
    };
    // qemu writes a zero-sized image it cannot open itself (capacity 0
    // reads as "descriptor elsewhere"); create still succeeds, so we match.
    Case zero = sized("zero", "0", 0);
    zero.qemu_opens = false;
    v.push_back(zero);

    for (auto a : {abi::VmdkAdapter::buslogic, abi::VmdkAdapter::lsilogic, abi::VmdkAdapter::legacy_esx}) {
        Case c = sized("", "1G", 1 * GiB);
        c.adapter = a;
        c.name = a == abi::VmdkAdapter::buslogic ? "adapter_buslogic"
                 : a == abi::VmdkAdapter::lsilogic ? "adapter_lsilogic"
                                                    : "adapter_legacyESX";
        v.push_back(c);
    }
    {
        Case c = sized("adapter_lsilogic_2T", "2T", 2 * TiB);
        c.adapter = abi::VmdkAdapter::lsilogic;
        v.push_back(c);
    }
    for (const char* sz : {"1M", "1G"}) {
        Case c = sized(sz[1] == 'M' ? "stream_1M" : "stream_1G", sz, sz[1] == 'M' ? MiB : GiB);
        c.subformat = abi::VmdkSubformat::stream_optimized;
        v.push_back(c);
    }
    {
        Case c = sized("stream_zeroed_grain_lsilogic", "100M", 100 * MiB);
        c.subformat = abi::VmdkSubformat::stream_optimized;
        c.zeroed_grain = true;
        c.adapter = abi::VmdkAdapter::lsilogic;
        v.push_back(c);
    }
    {
        Case c = sized("zeroed_grain", "1G", GiB);
        c.zeroed_grain = true;
        v.push_back(c);
    }
    {
        Case c = sized("compat6", "1G", GiB);
        c.compat6 = true;
        v.push_back(c);
    }
    {
        Case c = sized("compat6_stream", "16M", 16 * MiB);
        c.compat6 = true;
        c.subformat = abi::VmdkSubformat::stream_optimized;
        v.push_back(c);
    }
    {
        Case c = sized("hwversion_11", "1G", GiB);
        c.hwversion = "11";
        v.push_back(c);
    }
    {
        Case c = sized("hwversion_text_toolsversion", "64M", 64 * MiB);
        c.hwversion = "vmx-21";
        c.toolsversion = "12352";
        v.push_back(c);
    }
    {
        Case c = sized("toolsversion_only", "1M", MiB);
        c.toolsversion = "9.4.0";
        v.push_back(c);
    }
    for (auto p : {abi::Preallocation::falloc, abi::Preallocation::full}) {
        Case c = sized(p == abi::Preallocation::falloc ? "prealloc_falloc" : "prealloc_full", "1G", GiB);
        c.prealloc = p;
        v.push_back(c);
    }
    {
        Case c = sized("backing_inherit_size", "", 0);
        c.backing = Backing::relative;
        v.push_back(c);
    }
    {
        Case c = sized("backing_with_size", "1G", GiB);
        c.backing = Backing::relative;
        v.push_back(c);
    }
    {
        Case c = sized("backing_absolute_stream", "", 0);
        c.backing = Backing::absolute;
        c.subformat = abi::VmdkSubformat::stream_optimized;
        v.push_back(c);
    }
    {
        Case c = sized("backing_compat6_buslogic", "20M", 20 * MiB);
        c.backing = Backing::relative;
        c.compat6 = true;
        c.adapter = abi::VmdkAdapter::buslogic;
        v.push_back(c);
    }
    return v;
}

INSTANTIATE_TEST_SUITE_P(Matrix, VmdkCreateMatchesQemu, ::testing::ValuesIn(matrix()),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace instar::testing::vmdk
