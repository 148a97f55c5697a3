// The info renderer against live qemu-img 7.2, without instar's parsers:
// each test makes images with qemu-img / qemu-io (patching a few header
// bytes where qemu cannot make a value), reads what `qemu-img info
// --output=json` says, turns that into abi::InfoResult values as the guest
// would report them, renders them, and requires stdout byte for byte equal
// to `qemu-img info`, human and JSON, with and without --backing-chain.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "abi/ops/create.h"
#include "abi/ops/info.h"
#include "cli/info_render.h"
#include "image/info_validate.h"
#include "image/qemu_paths.h"
#include "host/error.h"
#include "host/escape.h"
#include "host/seccomp_filter.h"
#include "qemu_img_runner.h"

namespace instar::cli {
namespace {

using namespace ::instar::image;

using ::instar::testing::CommandResult;
using ::instar::testing::retry_qemu_luks_timing;
using ::instar::testing::run_command;
using ::instar::testing::Stderr;
using testing::shell_quote;
using testing::TempDir;

// Runs a shell command in `dir`; stdout is returned, stderr kept in
// dir/stderr for failure messages.
// `cmd` in `dir`; its stderr goes to dir/stderr. qemu-img's LUKS timing
// failure is tried again (support/process.h).
CommandResult sh(const TempDir& dir, const std::string& cmd) {
    return retry_qemu_luks_timing([&](std::string& err) {
        CommandResult r =
            run_command("( cd " + shell_quote(dir.path()) + " && { " + cmd + "; } 2>stderr )", Stderr::discard);
        err = testing::read_text(dir.file("stderr"));
        return r;
    });
}

void must(const TempDir& dir, const std::string& cmd) {
    CommandResult r = sh(dir, cmd);
    ASSERT_EQ(r.status, 0) << cmd << "\n" << testing::read_text(dir.file("stderr"));
}

// ---- qemu's JSON -> what the guest reports ------------------------------------

template <uint32_t N>
void set_string(abi::InfoString<N>& s, const std::string& v) {
    ASSERT_LE(v.size(), N) << v;
    s.length = uint32_t(v.size());
    std::memcpy(s.bytes, v.data(), v.size());
}

uint32_t format_of(const std::string& name) {
    if (name == "raw") return uint32_t(abi::Format::raw);
    if (name == "qcow2") return uint32_t(abi::Format::qcow2);
    if (name == "vmdk") return uint32_t(abi::Format::vmdk);
    if (name == "vpc") return uint32_t(abi::Format::vpc);
    if (name == "vhdx") return uint32_t(abi::Format::vhdx);
    ADD_FAILURE() << "format " << name;
    return 0;
}

std::string directory_of(const std::string& filename) {
    size_t slash = filename.rfind('/');
    return slash == std::string::npos ? "" : filename.substr(0, slash + 1);
}

// qemu's name -> the value the guest reports (its position in the list,
// from 1).
uint32_t luks_value(const std::string& name, std::initializer_list<const char*> names) {
    uint32_t i = 1;
    for (const char* n : names) {
        if (name == n) return i;
        ++i;
    }
    ADD_FAILURE() << "LUKS name " << name;
    return 0;
}

uint32_t luks_hash(const std::string& name) {
    return luks_value(name, {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160"});
}

// What the guest reports of the "encrypt" member of qemu's JSON; the
// renderer gets the names back from the CLI (qcow2_encryption_of).
void encryption_of(const nlohmann::json& e, abi::InfoQcow2& q) {
    if (e.at("format") == "aes") {
        q.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::aes);
        return;
    }
    ASSERT_EQ(e.at("format"), "luks");
    q.encrypt_format = uint32_t(abi::Qcow2EncryptFormat::luks);
    abi::InfoLuks& l = q.luks;
    l.cipher_alg = luks_value(e.at("cipher-alg"), {"aes-128", "aes-192", "aes-256", "cast5-128", "serpent-128",
                                                   "serpent-192", "serpent-256", "twofish-128", "twofish-192",
                                                   "twofish-256"});
    l.cipher_mode = luks_value(e.at("cipher-mode"), {"ecb", "cbc", "xts", "ctr"});
    l.ivgen_alg = luks_value(e.at("ivgen-alg"), {"plain", "plain64", "essiv"});
    if (e.contains("ivgen-hash-alg")) l.ivgen_hash_alg = luks_hash(e.at("ivgen-hash-alg"));
    l.hash_alg = luks_hash(e.at("hash-alg"));
    l.payload_offset = e.at("payload-offset");
    l.master_key_iters = e.at("master-key-iters");
    set_string(l.uuid, e.at("uuid"));
    ASSERT_EQ(e.at("slots").size(), abi::kInfoLuksSlots);
    for (uint32_t i = 0; i < abi::kInfoLuksSlots; ++i) {
        const auto& s = e.at("slots")[i];
        l.slots[i].active = s.at("active").get<bool>();
        l.slots[i].iters = s.value("iters", 0u);
        l.slots[i].stripes = s.value("stripes", 0u);
        l.slots[i].key_offset = s.at("key-offset");
    }
}

InfoImage image_of(const nlohmann::json& j) {
    InfoImage img;
    abi::InfoResult& r = img.info;
    img.filename = j.at("filename");
    img.actual_size = j.at("actual-size");
    r.format = format_of(j.at("format"));
    r.virtual_size = j.at("virtual-size");
    if (j.contains("cluster-size")) {
        r.flags |= abi::kInfoHasClusterSize;
        r.cluster_size = j.at("cluster-size");
    }
    if (j.value("encrypted", false)) r.flags |= abi::kInfoEncrypted;
    // qemu has no dirty flag when its get_info fails (vmdk extents of
    // different kinds).
    if (!j.contains("dirty-flag")) {
        EXPECT_EQ(j.at("format"), "vmdk");
        r.vmdk.flags |= abi::kVmdkMixedExtents;
    } else if (j.at("dirty-flag").get<bool>()) {
        r.flags |= abi::kInfoDirty;
    }
    if (j.contains("backing-filename")) {
        r.flags |= abi::kInfoHasBacking;
        set_string(r.backing_file, j.at("backing-filename"));
    }
    if (j.contains("backing-filename-format")) {
        r.flags |= abi::kInfoHasBackingFormat;
        set_string(r.backing_format, j.at("backing-filename-format"));
    }
    if (j.contains("snapshots")) {
        for (const auto& s : j.at("snapshots")) {
            abi::InfoSnapshot& out = img.snapshots.emplace_back();
            ++r.snapshot_count;
            set_string(out.id, s.at("id"));
            set_string(out.name, s.at("name"));
            out.vm_state_size = uint64_t(s.at("vm-state-size").get<int64_t>());
            out.date_sec = s.at("date-sec");
            out.date_nsec = s.at("date-nsec");
            out.vm_clock_nsec =
                s.at("vm-clock-sec").get<uint64_t>() * 1000000000 + s.at("vm-clock-nsec").get<uint64_t>();
            out.has_icount = s.contains("icount");
            out.icount = out.has_icount ? uint64_t(s.at("icount").get<int64_t>()) : UINT64_MAX;
        }
    }
    if (!j.contains("format-specific")) return img;
    const auto& data = j.at("format-specific").at("data");
    if (r.format == uint32_t(abi::Format::qcow2)) {
        abi::InfoQcow2& q = r.qcow2;
        q.version = data.at("compat") == "0.10" ? 2 : 3;
        q.compression_type = uint32_t(data.at("compression-type") == "zstd" ? abi::Qcow2Compression::zstd
                                                                           : abi::Qcow2Compression::zlib);
        q.refcount_bits = data.at("refcount-bits");
        if (data.value("lazy-refcounts", false)) q.flags |= abi::kQcow2LazyRefcounts;
        if (data.value("corrupt", false)) q.flags |= abi::kQcow2Corrupt;
        if (data.value("extended-l2", false)) q.flags |= abi::kQcow2ExtendedL2;
        if (data.contains("data-file")) set_string(q.data_file, data.at("data-file"));
        if (data.contains("data-file-raw")) {
            q.flags |= abi::kQcow2HasDataFile;
            if (data.at("data-file-raw").get<bool>()) q.flags |= abi::kQcow2DataFileRaw;
        }
        if (data.contains("encrypt")) {
            encryption_of(data.at("encrypt"), q);
            img.encryption = qcow2_encryption_of(r);
        }
        if (data.contains("bitmaps")) {
            q.flags |= abi::kQcow2HasBitmaps;
            for (const auto& b : data.at("bitmaps")) {
                abi::InfoBitmap& out = img.bitmaps.emplace_back();
                ++q.bitmap_count;
                set_string(out.name, b.at("name"));
                out.granularity = b.at("granularity");
                for (const auto& f : b.at("flags")) {
                    if (f == "in-use") out.flags |= abi::kInfoBitmapInUse;
                    else if (f == "auto") out.flags |= abi::kInfoBitmapAuto;
                    else ADD_FAILURE() << "bitmap flag " << f;
                }
            }
        }
    } else if (r.format == uint32_t(abi::Format::vmdk)) {
        abi::InfoVmdk& v = r.vmdk;
        v.cid = data.at("cid");
        v.parent_cid = data.at("parent-cid");
        set_string(v.create_type, data.at("create-type"));
        for (const auto& e : data.at("extents")) {
            abi::InfoVmdkExtent& x = img.extents.emplace_back();
            ++v.extent_count;
            x.virtual_size = e.at("virtual-size");
            if (e.contains("cluster-size")) {
                x.flags |= abi::kVmdkExtentHasClusterSize;
                x.cluster_size = e.at("cluster-size");
            }
            if (e.value("compressed", false)) x.flags |= abi::kVmdkExtentCompressed;
            std::string format = e.at("format");
            set_string(x.format, format);
            // The guest names an extent as the descriptor does; qemu shows
            // the path it opened (or the image itself for a sparse file).
            std::string name = e.at("filename");
            if (!format.empty()) {
                std::string dir = directory_of(img.filename);
                EXPECT_EQ(name.rfind(dir, 0), 0u) << name;
                set_string(x.filename, name.substr(dir.size()));
            } else {
                EXPECT_EQ(name, img.filename);
            }
        }
    } else {
        ADD_FAILURE() << "format-specific data for " << j.at("format");
    }
    return img;
}

struct QemuInfo {
    std::string human;
    std::string json;
    std::vector<InfoImage> chain;
};

// The images as the renderers take them: checked (a refusal fails the test).
std::vector<CheckedInfoImage> checked(const std::vector<InfoImage>& images) {
    std::vector<CheckedInfoImage> out;
    for (const InfoImage& img : images) out.push_back(check_info_image(img));
    return out;
}

// qemu-img info ARGS, human and JSON; ARGS end with the file name.
QemuInfo qemu_info(const TempDir& dir, const std::string& args) {
    QemuInfo q;
    CommandResult h = sh(dir, "qemu-img info " + args);
    CommandResult j = sh(dir, "qemu-img info --output=json " + args);
    EXPECT_EQ(h.status, 0) << args << "\n" << testing::read_text(dir.file("stderr"));
    EXPECT_EQ(j.status, 0) << args;
    q.human = h.output;
    q.json = j.output;
    nlohmann::json parsed = nlohmann::json::parse(j.output);
    if (parsed.is_array()) {
        for (const auto& e : parsed) q.chain.push_back(image_of(e));
    } else {
        q.chain.push_back(image_of(parsed));
    }
    return q;
}

bool chain_option(const std::string& args) { return args.find("--backing-chain") != std::string::npos; }

// The whole comparison for one command line.
void expect_same(const TempDir& dir, const std::string& args) {
    SCOPED_TRACE("qemu-img info " + args);
    QemuInfo q = qemu_info(dir, args);
    if (::testing::Test::HasFailure()) return;
    EXPECT_EQ(render_info_human(checked(q.chain)), q.human);
    EXPECT_EQ(render_info_json(checked(q.chain), chain_option(args)), q.json);
}

// ---- patching what qemu-img cannot make -------------------------------------

uint64_t read_be(const std::filesystem::path& file, uint64_t offset, int width) {
    std::ifstream f(file, std::ios::binary);
    f.seekg(std::streamoff(offset));
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | uint8_t(f.get());
    return v;
}

void write_be(const std::filesystem::path& file, uint64_t offset, uint64_t value, int width) {
    std::fstream f(file, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(std::streamoff(offset));
    for (int i = width - 1; i >= 0; --i) f.put(char(value >> (8 * i)));
}

struct SnapshotPatch {
    uint64_t vm_state_size;
    uint64_t vm_clock_nsec;
    uint32_t date_sec;
    uint64_t icount;  // UINT64_MAX: none
};

// Rewrites the snapshot table entries of a qcow2 v3 image made by qemu
// (docs/interop/qcow2.txt: fixed 40-byte part, then extra data with the
// 64-bit VM state size and the icount).
void patch_snapshots(const std::filesystem::path& file, const std::vector<SnapshotPatch>& patches) {
    uint64_t count = read_be(file, 60, 4);
    uint64_t off = read_be(file, 64, 8);
    ASSERT_EQ(count, patches.size());
    for (const SnapshotPatch& p : patches) {
        uint64_t id_size = read_be(file, off + 12, 2);
        uint64_t name_size = read_be(file, off + 14, 2);
        uint64_t extra = read_be(file, off + 36, 4);
        ASSERT_GE(extra, 24u);
        write_be(file, off + 16, p.date_sec, 4);
        write_be(file, off + 24, p.vm_clock_nsec, 8);
        write_be(file, off + 32, p.vm_state_size, 4);
        write_be(file, off + 40, p.vm_state_size, 8);
        write_be(file, off + 56, p.icount, 8);
        off = (off + 40 + extra + id_size + name_size + 7) & ~uint64_t(7);
    }
}

class InfoVsQemu : public ::testing::Test {
protected:
    void SetUp() override {
        INSTAR_REQUIRE_QEMU_IMG();
        ASSERT_FALSE(dir.path().empty());
    }
    TempDir dir;
};

// ---- the cases -----------------------------------------------------------------

TEST_F(InfoVsQemu, Raw) {
    must(dir, "qemu-img create -f raw r.img 1M >/dev/null && qemu-io -f raw -c 'write -P 0x11 0 64k' r.img >/dev/null");
    must(dir, "qemu-img create -f raw empty.img 0 >/dev/null && truncate -s 1000 odd.img && truncate -s 10G big.img");
    for (const char* f : {"r.img", "empty.img", "odd.img", "big.img"}) expect_same(dir, f);
    expect_same(dir, "-f raw r.img");
    expect_same(dir, "--backing-chain r.img");
}

TEST_F(InfoVsQemu, Qcow2Variants) {
    must(dir,
         "qemu-img create -f qcow2 v3.qcow2 64M >/dev/null && "
         "qemu-io -c 'write -P 1 0 1M' -c 'discard 0 64k' v3.qcow2 >/dev/null && "
         "qemu-img create -f qcow2 -o compat=0.10 v2.qcow2 100M >/dev/null && "
         "qemu-io -c 'write -P 2 1M 128k' v2.qcow2 >/dev/null && "
         "qemu-img create -f qcow2 -o lazy_refcounts=on,extended_l2=on,cluster_size=2M,refcount_bits=64,"
         "compression_type=zstd feat.qcow2 1G >/dev/null && "
         "qemu-img create -f qcow2 -o cluster_size=512,refcount_bits=1 small.qcow2 8M >/dev/null && "
         "qemu-img create -f qcow2 -o extended_l2=on,cluster_size=16k,refcount_bits=2 sub.qcow2 8M >/dev/null && "
         "qemu-img convert -c -O qcow2 v3.qcow2 comp.qcow2 && "
         "qemu-img create -f qcow2 -o data_file=data.raw ext.qcow2 1M >/dev/null && "
         "qemu-img create -f qcow2 -o data_file=raw.raw,data_file_raw=on extraw.qcow2 1M >/dev/null && "
         "qemu-img create -f qcow2 -o data_file=x noname.qcow2 1M >/dev/null && "
         "qemu-img create -f qcow2 -o lazy_refcounts=on dirty.qcow2 1M >/dev/null && "
         "cp v3.qcow2 corrupt.qcow2");
    // A crash with lazy refcounts leaves the dirty bit set.
    sh(dir, "qemu-io -c 'write 0 64k' -c abort dirty.qcow2");
    // The corrupt bit: incompatible feature bit 1 (header bytes 72..79).
    write_be(dir.file("corrupt.qcow2"), 79, read_be(dir.file("corrupt.qcow2"), 79, 1) | 2, 1);
    // A data file extension whose name is empty as a C string: the first
    // extension (after the 112-byte header), its name 8 bytes in.
    ASSERT_EQ(read_be(dir.file("noname.qcow2"), 112, 4), 0x44415441u);
    write_be(dir.file("noname.qcow2"), 120, 0, 1);
    for (const char* f : {"v3.qcow2", "v2.qcow2", "feat.qcow2", "small.qcow2", "sub.qcow2", "comp.qcow2", "ext.qcow2",
                          "extraw.qcow2", "noname.qcow2", "dirty.qcow2", "corrupt.qcow2"})
        expect_same(dir, f);
    expect_same(dir, "--backing-chain dirty.qcow2");
}

// The VM SIZE column and vm-state-size take any 64-bit value: an oracle
// for qemu's size_to_str() on values no file could have.
const uint64_t kSizes[] = {0,
                           1,
                           999,
                           1000,
                           1023,
                           1024,
                           1536,
                           10239,
                           102400,
                           1023999,
                           1024000,
                           1048575,
                           1048576,
                           1269760,
                           123456789,
                           1789569706,
                           uint64_t(1) << 40,
                           (uint64_t(1) << 50) * 999,
                           (uint64_t(1) << 50) * 1000 - 1,
                           (uint64_t(1) << 60) * 3,
                           (uint64_t(1) << 63) + 5,
                           UINT64_MAX};

TEST_F(InfoVsQemu, Qcow2Snapshots) {
    std::string cmd = "qemu-img create -f qcow2 s.qcow2 16M >/dev/null";
    for (size_t i = 0; i < std::size(kSizes); ++i) {
        std::string name = i == 3 ? "a tag longer than sixteen bytes" : i == 4 ? "" : "snap" + std::to_string(i);
        cmd += " && qemu-img snapshot -c " + shell_quote(name) + " s.qcow2";
    }
    cmd += " && qemu-img create -f qcow2 -o compat=0.10 v2.qcow2 1M >/dev/null && qemu-img snapshot -c old v2.qcow2";
    must(dir, cmd);
    std::vector<SnapshotPatch> patches;
    const uint64_t clocks[] = {0, 1, 999999999, 1000000000, 59999999999, 3600000000000, 86399999000000,
                               359999999999999, UINT64_MAX, uint64_t(1) << 63};
    const uint32_t dates[] = {0, 1, 946684799, 1700000000, 2147483647, 2147483648u, 4000000000u, UINT32_MAX};
    const uint64_t icounts[] = {0, 1, 123456789, UINT64_MAX, (uint64_t(1) << 63) + 7, UINT64_MAX - 1};
    for (size_t i = 0; i < std::size(kSizes); ++i)
        patches.push_back({kSizes[i], clocks[i % std::size(clocks)], dates[i % std::size(dates)],
                           icounts[i % std::size(icounts)]});
    patch_snapshots(dir.file("s.qcow2"), patches);

    // Dates are local time: the same zone for both.
    const char* old_tz = std::getenv("TZ");
    std::optional<std::string> saved = old_tz ? std::optional<std::string>(old_tz) : std::nullopt;
    for (const char* tz : {"UTC", "America/New_York", "Asia/Kolkata", "America/St_Johns", "Pacific/Kiritimati"}) {
        SCOPED_TRACE(tz);
        setenv("TZ", tz, 1);
        prepare_info_render();
        expect_same(dir, "s.qcow2");
        expect_same(dir, "v2.qcow2");
    }
    if (saved)
        setenv("TZ", saved->c_str(), 1);
    else
        unsetenv("TZ");
    tzset();
}

TEST_F(InfoVsQemu, SizeToStrTable) {
    // Pinned rows (checked against qemu-img 7.2 via the test above), so the
    // rule is tested even where qemu-img is missing.
    EXPECT_EQ(qemu_size_to_str(0), "0 B");
    EXPECT_EQ(qemu_size_to_str(999), "999 B");
    EXPECT_EQ(qemu_size_to_str(1000), "0.977 KiB");
    EXPECT_EQ(qemu_size_to_str(200704), "196 KiB");
    EXPECT_EQ(qemu_size_to_str(1023999), "1e+03 KiB");
    EXPECT_EQ(qemu_size_to_str(1269760), "1.21 MiB");
    EXPECT_EQ(qemu_size_to_str(1073741824), "1 GiB");
    EXPECT_EQ(qemu_size_to_str(UINT64_MAX), "16 EiB");
}

TEST_F(InfoVsQemu, BackingChain) {
    must(dir,
         "mkdir sub && cd sub && qemu-img create -f qcow2 base.qcow2 1G >/dev/null && "
         "qemu-io -c 'write -P 1 0 1M' base.qcow2 >/dev/null && "
         "qemu-img create -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 >/dev/null && "
         "qemu-img create -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 >/dev/null && "
         "qemu-io -c 'write -P 3 512k 64k' top.qcow2 >/dev/null && "
         "qemu-img snapshot -c 'before upgrade' top.qcow2 && "
         "qemu-img create -f raw ../r.img 1M >/dev/null && "
         "qemu-img create -f qcow2 -b ../r.img -F raw up.qcow2 >/dev/null && "
         "qemu-img create -f qcow2 -b \"$PWD/base.qcow2\" -F qcow2 abs.qcow2 >/dev/null && "
         "qemu-img create -f qcow2 -u -b nbd:localhost:10809 -F raw proto.qcow2 1M >/dev/null && "
         "qemu-img create -f qcow2 -u -b 'dir/with:colon.img' -F raw colon.qcow2 1M >/dev/null && "
         "qemu-img create -f vmdk vb.vmdk 10M >/dev/null && "
         "qemu-img create -f vmdk -b vb.vmdk -F vmdk vc.vmdk >/dev/null && "
         "qemu-img create -f qcow2 -b vc.vmdk -F vmdk q-on-vmdk.qcow2 >/dev/null");
    for (const char* f : {"sub/top.qcow2", "./sub/top.qcow2", "sub/up.qcow2", "sub/abs.qcow2", "sub/proto.qcow2",
                          "sub/colon.qcow2", "sub/vc.vmdk"})
        expect_same(dir, f);
    for (const char* f : {"sub/top.qcow2", "./sub//top.qcow2", "sub/up.qcow2", "sub/abs.qcow2", "sub/vc.vmdk",
                          "sub/q-on-vmdk.qcow2"})
        expect_same(dir, std::string("--backing-chain ") + f);
    // From inside the directory, and by absolute name.
    expect_same(dir, "--backing-chain " + shell_quote(dir.file("sub/top.qcow2")));
}

TEST_F(InfoVsQemu, BackingNames) {
    // Printable names print as they are, in both outputs.
    const std::string printable = "a name with spaces, \"quotes\", 'ticks' & {json: [1]}.img";
    must(dir, "qemu-img create -f qcow2 -u -b " + shell_quote(printable) + " -F raw p.qcow2 1M >/dev/null");
    expect_same(dir, "p.qcow2");

    // Any other byte: JSON exactly as qemu (\uXXXX); human escaped where
    // qemu prints raw bytes.
    const std::string hostile =
        "a\x01" "b\x7f\"\\\xc3\xa9\xff\xc0\x80\xf0\x9f\x98\x80\x1b[31m\xe0\x80\xaf\xef\xbf\xbe\xed\xa0\x80"
        "\xf8\x88\x80\x80\x80\xfc\x84\x80\x80\x80\x80\xc3z\xe2\x82\n\t\r\b\f\xf4\x90\x80\x80\xef\xb7\x90\xc3";
    must(dir, "qemu-img create -f qcow2 -u -b " + shell_quote(hostile) + " -F raw h.qcow2 1M >/dev/null");
    QemuInfo q = qemu_info(dir, "h.qcow2");
    ASSERT_FALSE(HasFailure());
    set_string(q.chain[0].info.backing_file, hostile);  // the bytes, not qemu's decoding of them
    EXPECT_EQ(render_info_json(checked(q.chain), false), q.json);
    std::string expected = q.human;
    size_t at = expected.find(hostile);
    ASSERT_NE(at, std::string::npos);
    expected.replace(at, hostile.size(), escape_untrusted(hostile));
    EXPECT_EQ(render_info_human(checked(q.chain)), expected);
    EXPECT_EQ(render_info_human(checked(q.chain)).find('\x1b'), std::string::npos);

    // qemu holds names as C strings: bytes after a NUL are not there.
    set_string(q.chain[0].info.backing_file, std::string("b.img\0ignored", 13));
    set_string(q.chain[0].info.backing_format, std::string("raw\0x", 5));
    must(dir, "qemu-img create -f qcow2 -u -b b.img -F raw b.qcow2 1M >/dev/null");
    QemuInfo b = qemu_info(dir, "b.qcow2");
    ASSERT_FALSE(HasFailure());
    q.chain[0].filename = "b.qcow2";
    q.chain[0].actual_size = b.chain[0].actual_size;
    EXPECT_EQ(render_info_human(checked(q.chain)), b.human);
    EXPECT_EQ(render_info_json(checked(q.chain), false), b.json);
    // ... and a name that starts with NUL is no backing file at all.
    set_string(q.chain[0].info.backing_file, std::string("\0x", 2));
    EXPECT_EQ(render_info_human(checked(q.chain)).find("backing"), std::string::npos);
    EXPECT_FALSE(info_backing_file(q.chain[0].info));
}

TEST_F(InfoVsQemu, Vmdk) {
    must(dir,
         "qemu-img create -f raw data.raw 4M >/dev/null && qemu-io -f raw -c 'write -P 7 0 1M' data.raw >/dev/null && "
         "qemu-img create -f vmdk sparse.vmdk 1G >/dev/null && "
         "qemu-io -f vmdk -c 'write -P 1 0 128k' sparse.vmdk >/dev/null && "
         "qemu-img create -f vmdk -o subformat=monolithicFlat flat.vmdk 10M >/dev/null && "
         "qemu-img create -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 5G >/dev/null && "
         "qemu-img create -f vmdk -o subformat=twoGbMaxExtentFlat splitflat.vmdk 3G >/dev/null && "
         "qemu-img convert -O vmdk -o subformat=streamOptimized data.raw stream.vmdk && "
         "qemu-img create -f vmdk -o adapter_type=lsilogic,hwversion=6,zeroed_grain=on z.vmdk 64M >/dev/null && "
         "mkdir d && qemu-img create -f vmdk -o subformat=twoGbMaxExtentSparse d/split.vmdk 3G >/dev/null && "
         // An extent name with a colon is a path, not a protocol, for vmdk.
         "qemu-img create -f vmdk -o subformat=monolithicFlat d/colon.vmdk 1M >/dev/null && "
         "mv d/colon-flat.vmdk d/a:b.vmdk && sed -i 's/\"colon-flat.vmdk\"/\"a:b.vmdk\"/' d/colon.vmdk && "
         // More extents than a result struct could hold.
         "qemu-img create -f vmdk -o subformat=twoGbMaxExtentFlat many.vmdk 40G >/dev/null && "
         "qemu-img create -f vmdk -o subformat=twoGbMaxExtentSparse -b sparse.vmdk -F vmdk child.vmdk >/dev/null && "
         // Extents of different kinds: qemu shows no cluster size and no
         // dirty flag.
         "printf 'CID=1\\nparentCID=ffffffff\\ncreateType=\"vmfs\"\\nRW 64 SPARSE \"split-s001.vmdk\"\\n"
         "RW 2048 FLAT \"flat-flat.vmdk\" 0\\nRW 8 VMFS \"data.raw\"\\n' > mixed.vmdk");
    for (const char* f : {"sparse.vmdk", "flat.vmdk", "split.vmdk", "splitflat.vmdk", "stream.vmdk", "z.vmdk",
                          "d/split.vmdk", "./d/split.vmdk", "--backing-chain d/split.vmdk", "d/colon.vmdk",
                          "many.vmdk", "--backing-chain child.vmdk", "mixed.vmdk", "-f vmdk mixed.vmdk"})
        expect_same(dir, f);
}

TEST_F(InfoVsQemu, VpcVhdx) {
    must(dir,
         "qemu-img create -f vpc dyn.vhd 100M >/dev/null && qemu-io -f vpc -c 'write -P 1 0 3M' dyn.vhd >/dev/null && "
         "qemu-img create -f vpc -o subformat=fixed fixed.vhd 10M >/dev/null && "
         "qemu-img create -f vpc -o force_size=on odd.vhd 1000M >/dev/null && "
         "qemu-img create -f vhdx x.vhdx 100M >/dev/null && qemu-io -f vhdx -c 'write -P 1 0 2M' x.vhdx >/dev/null && "
         "qemu-img create -f vhdx -o subformat=fixed,block_size=1M xf.vhdx 8M >/dev/null && "
         "qemu-img create -f vhdx -o block_size=256M,log_size=2M xb.vhdx 1G >/dev/null");
    for (const char* f : {"dyn.vhd", "fixed.vhd", "-f vpc fixed.vhd", "odd.vhd", "x.vhdx", "xf.vhdx", "xb.vhdx"})
        expect_same(dir, f);
}

TEST_F(InfoVsQemu, EncryptedAes) {
    must(dir,
         "qemu-img create --object secret,id=s,data=x -f qcow2 -o encrypt.format=aes,encrypt.key-secret=s "
         "aes.qcow2 1M >/dev/null");
    expect_same(dir, "aes.qcow2");
}

TEST_F(InfoVsQemu, EncryptedLuks) {
    // A short iteration time: LUKS set-up otherwise benchmarks its key
    // derivation for seconds.
    const std::string create = "qemu-img create --object secret,id=s,data=x -f qcow2 -o "
                               "encrypt.format=luks,encrypt.key-secret=s,encrypt.iter-time=10";
    // One command each, so qemu-img's LUKS timing failure is retried for
    // the command that met it (support/process.h), not for the whole list.
    must(dir, create + " default.qcow2 1M >/dev/null");
    must(dir, create + ",encrypt.cipher-alg=aes-128,encrypt.hash-alg=sha512 aes128.qcow2 1M >/dev/null");
    must(dir, create + ",encrypt.cipher-alg=cast5-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain cast5.qcow2 1M "
                       ">/dev/null");
    must(dir, create +
                  ",encrypt.cipher-alg=serpent-256,encrypt.cipher-mode=ctr,encrypt.ivgen-alg=essiv,"
                  "encrypt.ivgen-hash-alg=md5,encrypt.hash-alg=ripemd160 serpent.qcow2 1M >/dev/null");
    must(dir, create +
                  ",encrypt.cipher-alg=twofish-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,"
                  "encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha1 luks.qcow2 1M >/dev/null");
    must(dir,
         "qemu-img bitmap --object secret,id=s,data=x --image-opts "
         "driver=qcow2,encrypt.key-secret=s,file.filename=luks.qcow2 --add -g 1M 'bm 0'");
    for (const char* f : {"default.qcow2", "aes128.qcow2", "cast5.qcow2", "serpent.qcow2", "luks.qcow2"})
        expect_same(dir, f);
    // Without the ESSIV hash (plain64, the default shape).
    QemuInfo q = qemu_info(dir, "luks.qcow2");
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(q.chain[0].encryption);
    q.chain[0].encryption->ivgen_hash_alg.reset();
    q.chain[0].encryption->ivgen_alg = "plain64";
    std::string json = render_info_json(checked(q.chain), false);
    EXPECT_EQ(json.find("ivgen-hash-alg"), std::string::npos);
    EXPECT_NE(json.find("\"ivgen-alg\": \"plain64\""), std::string::npos);
    // An encrypted image without the details cannot be shown as qemu does.
    q.chain[0].encryption.reset();
    EXPECT_THROW(check_info_image(q.chain[0]), Error);
}

TEST_F(InfoVsQemu, Bitmaps) {
    must(dir,
         "qemu-img create -f qcow2 one.qcow2 16M >/dev/null && qemu-img bitmap --add one.qcow2 bm0 && "
         "qemu-img create -f qcow2 -o cluster_size=4k many.qcow2 1G >/dev/null && "
         "qemu-img bitmap --add many.qcow2 a && qemu-img bitmap --add --disable -g 128k many.qcow2 'b, c' && "
         "qemu-img bitmap --add -g 512 many.qcow2 " + std::string(1023, 'n') + " && "
         "qemu-img bitmap --add -g 2G --disable many.qcow2 '\"q\"' && "
         "qemu-img snapshot -c snap many.qcow2 && "
         "qemu-img create -f qcow2 inuse.qcow2 16M >/dev/null && qemu-img bitmap --add inuse.qcow2 x && "
         "qemu-img bitmap --add --disable inuse.qcow2 y");
    // qemu marks loaded bitmaps in use; a crash leaves them so.
    sh(dir, "qemu-io -c 'write 0 64k' -c abort inuse.qcow2");
    for (const char* f : {"one.qcow2", "many.qcow2", "inuse.qcow2", "--backing-chain many.qcow2"})
        expect_same(dir, f);
}

// ---- without qemu-img ------------------------------------------------------------

TEST(InfoRender, FullBackingFilename) {
    EXPECT_EQ(qemu_full_backing_filename("top.qcow2", "b.qcow2"), "b.qcow2");
    EXPECT_EQ(qemu_full_backing_filename("sub/top.qcow2", "b.qcow2"), "sub/b.qcow2");
    EXPECT_EQ(qemu_full_backing_filename("./sub//top.qcow2", "../b"), "./sub//../b");
    EXPECT_EQ(qemu_full_backing_filename("sub/top.qcow2", "/abs/b"), "/abs/b");
    EXPECT_EQ(qemu_full_backing_filename("sub/top.qcow2", "nbd:host:1"), "nbd:host:1");
    EXPECT_EQ(qemu_full_backing_filename("sub/top.qcow2", "d/x:y"), "sub/d/x:y");
    EXPECT_EQ(qemu_full_backing_filename("file:top.qcow2", "b"), "file:b");
    EXPECT_EQ(qemu_full_backing_filename("file:sub/top.qcow2", "b"), "file:sub/b");
    EXPECT_EQ(qemu_full_backing_filename("json:{}", "b"), std::nullopt);
    EXPECT_EQ(qemu_full_backing_filename("top", ""), std::nullopt);
    EXPECT_EQ(qemu_path_combine("sub/x.vmdk", "a:b.vmdk"), "sub/a:b.vmdk");
    EXPECT_EQ(qemu_path_combine("sub/x.vmdk", "/abs/e.vmdk"), "/abs/e.vmdk");
    EXPECT_EQ(qemu_path_combine("x.vmdk", "e.vmdk"), "e.vmdk");
}

// Backing file names reach error messages too (a chain that cannot be
// followed): an image must not be able to add lines or terminal escapes.
TEST(InfoRender, ErrorNamesAreOneLineOfPlainText) {
    EXPECT_EQ(info_error_name("base.qcow2"), "base.qcow2");
    EXPECT_EQ(info_error_name("a\nfile format: raw\nb"), "a\\x0afile format: raw\\x0ab");
    EXPECT_EQ(info_error_name("\x1b]0;owned\x07\xff"), "\\x1b]0;owned\\x07\\xff");
    EXPECT_EQ(info_error_name("a\\b"), "a\\x5cb");
}

abi::InfoResult minimal_raw() {
    abi::InfoResult r{};
    r.format = uint32_t(abi::Format::raw);
    r.virtual_size = 1048576;
    return r;
}

TEST(InfoRender, PinnedRawOutput) {
    InfoImage img;
    img.filename = "disk.img";
    img.info = minimal_raw();
    img.actual_size = 4096;
    EXPECT_EQ(render_info_human(checked({img})),
              "image: disk.img\nfile format: raw\nvirtual size: 1 MiB (1048576 bytes)\ndisk size: 4 KiB\n");
    EXPECT_EQ(render_info_json(checked({img}), false),
              "{\n    \"virtual-size\": 1048576,\n    \"filename\": \"disk.img\",\n    \"format\": \"raw\",\n"
              "    \"actual-size\": 4096,\n    \"dirty-flag\": false\n}\n");
    EXPECT_EQ(render_info_json(checked({img}), true).substr(0, 6), "[\n    ");
}

// qemu-img 7.2 prints a dynamic vpc whose block size is 2 GiB with
// cluster_size -2147483648 (the value passes through an int).
TEST(InfoRender, VpcBlockSizeOf2GiBIsNegativeAsInQemu) {
    InfoImage img;
    img.filename = "img.vpc";
    img.actual_size = 4096;
    img.info.format = uint32_t(abi::Format::vpc);
    img.info.virtual_size = 67125248;
    img.info.flags = abi::kInfoHasClusterSize;
    img.info.cluster_size = uint64_t(1) << 31;
    EXPECT_NE(render_info_human(checked({img})).find("\ncluster_size: -2147483648\n"), std::string::npos);
    EXPECT_NE(render_info_json(checked({img}), false).find("\"cluster-size\": -2147483648,"), std::string::npos);
    img.info.cluster_size = uint64_t(1) << 30;
    EXPECT_NE(render_info_human(checked({img})).find("\ncluster_size: 1073741824\n"), std::string::npos);
}

// The CLI renders after the guest ran, inside the seccomp sandbox that
// kills the process on any system call it does not expect (open, stat).
TEST(InfoRender, RendersInsideTheSandbox) {
    InfoImage img;
    img.filename = "s.qcow2";
    img.info.format = uint32_t(abi::Format::qcow2);
    img.info.flags = abi::kInfoHasClusterSize;
    img.info.cluster_size = 65536;
    img.info.virtual_size = 1 << 20;
    img.info.qcow2.version = 3;
    img.info.qcow2.refcount_bits = 16;
    img.info.snapshot_count = 1;
    img.snapshots.resize(1);
    img.snapshots[0].date_sec = 1700000000;
    img.snapshots[0].icount = UINT64_MAX;
    const std::vector<CheckedInfoImage> chain = checked({img});
    for (bool with_tz : {false, true}) {
        SCOPED_TRACE(with_tz ? "TZ set" : "TZ unset");
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            if (with_tz)
                setenv("TZ", "Europe/Paris", 1);
            else
                unsetenv("TZ");
            prepare_info_render();
            install_seccomp(SeccompPolicy{});
            bool ok = render_info_human(chain).find("2023-11-") != std::string::npos &&
                      !render_info_json(chain, true).empty() && !render_info_human(chain).empty();
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    }
}

TEST(InfoRender, RefusesInvalidInput) {
    InfoImage img;
    img.filename = "disk.img";
    img.info = minimal_raw();
    img.info.format = 9;
    EXPECT_THROW(check_info_image(img), Error);
    EXPECT_THROW(render_info_human({}), Error);
    EXPECT_THROW(render_info_json({}, true), Error);
    img.info = minimal_raw();
    EXPECT_THROW(render_info_json(checked({img, img}), false), Error);
}

}  // namespace
}  // namespace instar::cli
