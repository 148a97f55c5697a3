// vhdx_read_info against `qemu-img info -f vhdx --output=json` 7.2, field
// by field: on images qemu-img and qemu-io make, on damaged copies (refused
// where qemu refuses them, with the status telling damage from what qemu
// will not open), and on logs, which qemu searches at open and, read-only,
// refuses to open when they hold entries to replay.
#include "formats/vhdx/vhdx_info.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "formats/common/endian.h"
#include "formats/vhdx/crc32c.h"
#include "formats/vhdx/vhdx_layout.h"
#include "memory_image.h"
#include "vpc_vhdx_info_support.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing {
namespace {

using namespace vv;
using namespace vv::vhdx_edit;
using namespace formats::vhdx;
using formats::Status;

constexpr uint64_t GiB = 1024 * kMiB;

// qemu's placement in a 64 MiB image with the default 1 MiB log and 8 MiB
// blocks: log at 1 MiB, BAT at 2 MiB, metadata at 3 MiB, items 64 KiB in,
// in the order file parameters, disk size, page 83, logical and physical
// sector size.
constexpr uint64_t kLogAt = 1 * kMiB, kBatAt = 2 * kMiB, kMetaAt = 3 * kMiB, kItems = kMetaAt + 0x10000;
constexpr uint64_t kBlockSizeItem = kItems, kFlagsItem = kItems + 4, kDiskSizeItem = kItems + 8;
constexpr uint32_t kLogSectors = uint32_t(kDefaultLogSize / kLogSectorSize);

std::vector<uint8_t> guid_bytes(const Guid& g) { return std::vector<uint8_t>(g, g + kGuidSize); }
std::vector<uint8_t> some_guid(uint8_t seed) {
    std::vector<uint8_t> g(kGuidSize);
    for (size_t i = 0; i < kGuidSize; ++i) g[i] = uint8_t(seed + 13 * i + 1);
    return g;
}

uint64_t sequence_of(const std::string& p, uint64_t header) {
    return formats::load_le64(read_range(p, header + kHdSequence, 8).data());
}
// qemu-made headers are both valid: the current one has the higher number.
uint64_t current_header(const std::string& p) {
    return sequence_of(p, kHeader1Offset) > sequence_of(p, kHeader2Offset) ? kHeader1Offset : kHeader2Offset;
}
uint64_t other_header(const std::string& p) {
    return current_header(p) == kHeader1Offset ? kHeader2Offset : kHeader1Offset;
}
const ImageKind kVhdx{"vhdx", "x.vhdx", "9M 2M"};

std::string create(const TempDir& dir, const std::string& opts, uint64_t size) { return kVhdx.create(dir, opts, size); }

// qemu-img info and vhdx_read_info agree: the same facts, or both refuse,
// ours with `refusal`.
void expect_same(const std::string& path, bool qemu_should_open, const std::string& what,
                 Status refusal = Status::image_invalid) {
    expect_info_agreement(formats::vhdx_read_info, abi::Format::vhdx, "vhdx", path, qemu_should_open, what,
                          refusal);
}

class VhdxInfoOnQemuImages : public ::testing::TestWithParam<Made> {};

TEST_P(VhdxInfoOnQemuImages, MatchesQemuImgInfo) {
    INSTAR_REQUIRE_QEMU_IMG();
    if (qemu_io().empty()) GTEST_SKIP() << "qemu-io not installed";
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = GetParam().make(dir);
    expect_same(path, true, GetParam().name);
}


const Made kMade[] = {
    {"size_0", created(kVhdx, "", 0)},
    {"size_1", created(kVhdx, "", 1)},
    {"size_64m", created(kVhdx, "", 64 * kMiB)},
    {"odd_size_1m_blocks", created(kVhdx, "block_size=1M", 1000000007)},
    {"blocks_32m", created(kVhdx, "block_size=32M", 3 * GiB)},
    {"blocks_256m_log_8m", created(kVhdx, "log_size=8M,block_size=256M", 64 * kMiB)},
    {"size_64t", created(kVhdx, "", 64 * kTiB)},
    {"fixed", created(kVhdx, "subformat=fixed", 1000000007)},
    {"fixed_no_zero_state", created(kVhdx, "subformat=fixed,block_state_zero=off", 64 * kMiB)},
    {"fixed_2t", created(kVhdx, "subformat=fixed,block_state_zero=off", 2 * kTiB)},
    {"converted", converted(kVhdx, "", 20 * kMiB)},
    {"converted_fixed", converted(kVhdx, "subformat=fixed", 20 * kMiB)},
    {"converted_2m_blocks", converted(kVhdx, "block_size=2M", 20 * kMiB + 512)},
    {"written", written(kVhdx, "", 64 * kMiB, "-c 'write -P 1 0 64k' -c 'write -P 2 40M 1M' -c 'write -P 3 63M 1M'")},
    {"written_no_zero_state", written(kVhdx, "block_state_zero=off", 64 * kMiB, "-c 'write -P 3 8M 9M'")},
    {"discarded", written(kVhdx, "", 64 * kMiB, "-c 'write -P 4 0 16M' -c 'discard 0 8M' -c 'write -z 8M 8M'")},
};

INSTANTIATE_TEST_SUITE_P(Made, VhdxInfoOnQemuImages, ::testing::ValuesIn(kMade),
                         [](const ::testing::TestParamInfo<Made>& p) { return std::string(p.param.name); });

struct Damage {
    const char* name;
    const char* opts;  // how the 64 MiB base image is made
    std::function<void(const std::string&)> apply;
    bool qemu_opens;
    Status refusal;
};

class VhdxInfoOnDamagedImages : public ::testing::TestWithParam<Damage> {};

TEST_P(VhdxInfoOnDamagedImages, RefusedWhereQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG();
    const Damage& d = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, d.opts, 64 * kMiB);
    d.apply(path);
    expect_same(path, d.qemu_opens, d.name, d.refusal);
}

const char* const kFixed = "subformat=fixed,block_state_zero=off";
constexpr Status kInvalid = Status::image_invalid;
constexpr Status kUnsupported = Status::unsupported_feature;

const Damage kDamage[] = {
    {"current_header_checksum", "", [](const std::string& p) { write_range(p, current_header(p) + 100, {1}); }, true,
     kInvalid},
    {"both_header_checksums", "",
     [](const std::string& p) {
         write_range(p, kHeader1Offset + 100, {1});
         write_range(p, kHeader2Offset + 100, {1});
     },
     false, kInvalid},
    {"headers_disagree_same_sequence", "",
     [](const std::string& p) {
         write_range(p, kHeader2Offset + kHdDataWriteGuid, some_guid(1));
         edit_header(p, kHeader2Offset, kHdSequence, le64(sequence_of(p, kHeader1Offset)));
     },
     false, kInvalid},
    {"region_table_checksum", "", [](const std::string& p) { write_range(p, kRegionTable1Offset + 200, {1}); }, false,
     kInvalid},
    {"regions_overlap", "",
     [](const std::string& p) {
         put_region(p, 2, some_guid(3), kMetaAt + 4096, 4096, 0);
         edit_region_table(p, kRtEntryCount, le32(3));
     },
     false, kInvalid},
    {"bat_over_log", "", [](const std::string& p) { put_region(p, 0, guid_bytes(kBatRegionGuid), kLogAt, kMiB, 0); },
     false, kInvalid},
    {"unknown_required_region", "",
     [](const std::string& p) {
         put_region(p, 2, some_guid(3), 40 * kMiB, kMiB, kRegionEntryRequired);
         edit_region_table(p, kRtEntryCount, le32(3));
     },
     false, kUnsupported},
    {"metadata_items_out_of_range", "",
     [](const std::string& p) { put_metadata_entry(p, 0, guid_bytes(kFileParametersGuid), 0x7FFFFFF0, 8, 4); }, false,
     kInvalid},
    {"metadata_item_missing", "",
     [](const std::string& p) {
         write_range(p, kMetaAt + kMtEntryCount, {4, 0});
     },
     false, kUnsupported},
    {"unknown_required_item", "",
     [](const std::string& p) {
         put_metadata_entry(p, 5, some_guid(9), 0x10100, 8, kMetaIsRequired);
         write_range(p, kMetaAt + kMtEntryCount, {6, 0});
     },
     false, kUnsupported},
    // A differencing image: qemu does not open those (no backing file to
    // report, then).
    {"differencing", "",
     [](const std::string& p) {
         put_metadata_entry(p, 5, guid_bytes(kParentLocatorGuid), 0x10100, 64, kMetaIsRequired);
         write_range(p, kMetaAt + kMtEntryCount, {6, 0});
         write_range(p, kFlagsItem, le32(kFileParamHasParent));
     },
     false, kUnsupported},
    {"has_parent_without_locator", "",
     [](const std::string& p) { write_range(p, kFlagsItem, le32(kFileParamHasParent)); }, false, kInvalid},
    {"block_size_3m", "", [](const std::string& p) { write_range(p, kBlockSizeItem, le32(3 * kMiB)); }, false,
     kInvalid},
    {"block_size_32m", "", [](const std::string& p) { write_range(p, kBlockSizeItem, le32(32 * kMiB)); }, true,
     kInvalid},
    {"disk_size_unaligned", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(64 * kMiB + 100)); },
     true, kInvalid},
    {"disk_size_beyond_bat", "", [](const std::string& p) { write_range(p, kDiskSizeItem, le64(kTiB)); }, false,
     kInvalid},
    {"bat_entry_beyond_eof", kFixed, [](const std::string& p) { write_range(p, kBatAt + 8, le64((1ull << 40) | 6)); },
     false, kInvalid},
    {"bat_entry_over_metadata", kFixed, [](const std::string& p) { write_range(p, kBatAt + 8, le64(kMetaAt | 6)); },
     false, kInvalid},
    {"fixed_cut_short", kFixed, [](const std::string& p) { truncate_to(p, file_size(p) - kMiB); }, false, kInvalid},
    {"cut_before_metadata", "", [](const std::string& p) { truncate_to(p, kMetaAt); }, false, kInvalid},
    {"signature", "", [](const std::string& p) { write_range(p, 0, {'V'}); }, false, kInvalid},
    {"empty", "", [](const std::string& p) { truncate_to(p, 0); }, false, kInvalid},
};

INSTANTIATE_TEST_SUITE_P(Damage, VhdxInfoOnDamagedImages, ::testing::ValuesIn(kDamage),
                         [](const ::testing::TestParamInfo<Damage>& p) { return std::string(p.param.name); });

// ---- Logs

// A log entry as the VHDX spec lays it out; fields can be made wrong.
struct Descriptor {
    const char* signature = "desc";  // "desc": one data sector follows; "zero": none
    uint64_t file_offset = 0;
    uint64_t zero_length = 0;
    uint64_t sequence_delta = 0;  // added to the entry's sequence number
};
struct Entry {
    uint64_t sequence = 1;
    std::vector<uint8_t> guid;
    std::vector<Descriptor> descriptors;
    uint32_t length_delta = 0;  // added to the entry length
    bool bad_checksum = false;
    bool zero_data = false;           // data sectors all zero (as past the end of a file)
    std::vector<uint8_t> first_data;  // the first data sector's bytes, if set
};

std::vector<uint8_t> build_entry(const Entry& e) {
    uint32_t count = uint32_t(e.descriptors.size());
    uint32_t per = kLogSectorSize / kLogDescriptorSize;
    uint32_t desc_sectors = (count + kLogEntryHeaderSize / kLogDescriptorSize + per - 1) / per;
    uint32_t data_sectors = 0;
    for (auto& d : e.descriptors)
        if (std::string(d.signature) == "desc") ++data_sectors;
    std::vector<uint8_t> b(size_t(desc_sectors + data_sectors) * kLogSectorSize, 0);
    std::memcpy(b.data() + kLeSignature, kLogEntrySignature, 4);
    formats::store_le32(b.data() + kLeEntryLength, uint32_t(b.size()) + e.length_delta);
    formats::store_le64(b.data() + kLeSequence, e.sequence);
    formats::store_le32(b.data() + kLeDescriptorCount, count);
    std::memcpy(b.data() + kLeLogGuid, e.guid.data(), kGuidSize);
    formats::store_le64(b.data() + kLeFlushedFileOffset, 8 * kMiB);
    formats::store_le64(b.data() + kLeLastFileOffset, 8 * kMiB);
    size_t data_at = size_t(desc_sectors) * kLogSectorSize;
    for (uint32_t i = 0; i < count; ++i) {
        const Descriptor& d = e.descriptors[i];
        uint8_t* p = b.data() + kLogEntryHeaderSize + size_t(i) * kLogDescriptorSize;
        std::memcpy(p + kLdSignature, d.signature, 4);
        formats::store_le64(p + kLdZeroLength, d.zero_length);
        formats::store_le64(p + kLdFileOffset, d.file_offset);
        formats::store_le64(p + kLdSequence, e.sequence + d.sequence_delta);
        if (std::string(d.signature) == "desc") {
            uint8_t* s = b.data() + data_at;
            if (!e.first_data.empty() && data_at == size_t(desc_sectors) * kLogSectorSize) {
                std::memcpy(s, e.first_data.data(), kLogSectorSize);
            } else if (!e.zero_data) {
                std::memcpy(s, "data", 4);
                formats::store_le32(s + 4, uint32_t(e.sequence >> 32));
                std::memset(s + 8, 0x5C, 4084);
                formats::store_le32(s + 4092, uint32_t(e.sequence));
            }
            data_at += kLogSectorSize;
        }
    }
    uint32_t crc = crc32c(b.data(), b.size());  // the checksum field is still zero
    formats::store_le32(b.data() + kLeChecksum, e.bad_checksum ? crc ^ 1 : crc);
    return b;
}

// Writes an entry into the circular log from sector `first` on, wrapping
// at the end of the log.
void put_entry(const std::string& path, uint32_t first, const std::vector<uint8_t>& entry, uint64_t log_at = kLogAt,
               uint32_t sectors = kLogSectors) {
    for (size_t k = 0; k * kLogSectorSize < entry.size(); ++k) {
        uint64_t at = log_at + uint64_t((first + k) % sectors) * kLogSectorSize;
        write_range(path, at,
                    std::vector<uint8_t>(entry.begin() + k * kLogSectorSize, entry.begin() + (k + 1) * kLogSectorSize));
    }
}

const std::vector<uint8_t> kGuid = some_guid(0x40);

// Names `kGuid` as the log's GUID in the current header.
void name_log(const std::string& p) { edit_header(p, current_header(p), kHdLogGuid, kGuid); }

Entry entry(uint64_t sequence, std::vector<Descriptor> descriptors = {{"desc", 2 * kMiB}}) {
    Entry e;
    e.sequence = sequence;
    e.guid = kGuid;
    e.descriptors = std::move(descriptors);
    return e;
}

struct LogCase {
    const char* name;
    std::function<void(const std::string&)> apply;
    bool qemu_opens;
    Status refusal;
};

class VhdxInfoLogs : public ::testing::TestWithParam<LogCase> {};

TEST_P(VhdxInfoLogs, RefusedWhereQemuRefuses) {
    INSTAR_REQUIRE_QEMU_IMG();
    const LogCase& c = GetParam();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, "", 64 * kMiB);
    c.apply(path);
    expect_same(path, c.qemu_opens, c.name, c.refusal);
    // qemu's reason matches ours: a log to replay, or a failed search.
    if (!c.qemu_opens) {
        QemuJson q = qemu_info_json(path, "vhdx");
        bool replay = q.text.find("contains a log that needs to be replayed") != std::string::npos;
        EXPECT_EQ(replay, c.refusal == Status::unsupported_feature) << q.text;
    }
}

// An entry that is malformed where qemu looks (a header it accepts, a bad
// descriptor), hidden in a data sector of another entry.
std::vector<uint8_t> malformed_header_sector() {
    std::vector<uint8_t> b = build_entry(entry(1, {{"xxxx", 0, 0}}));
    b.resize(kLogSectorSize);
    return b;
}

const LogCase kLogCases[] = {
    {"named_but_empty", [](const std::string& p) { name_log(p); }, true, kInvalid},
    {"entry_unnamed", [](const std::string& p) { put_entry(p, 0, build_entry(entry(1))); }, true, kInvalid},
    {"entry_at_start",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(1)));
     },
     false, kUnsupported},
    {"entry_mid_log",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 100, build_entry(entry(77, {{"zero", 0, 8192}, {"desc", 4096}, {"desc", 3 * kMiB}})));
     },
     false, kUnsupported},
    {"entry_wrapping_around",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, kLogSectors - 1, build_entry(entry(5, {{"desc", 0}, {"desc", 4096}, {"desc", 8192}})));
     },
     false, kUnsupported},
    {"entry_with_a_full_header_sector",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 3, build_entry(entry(9, std::vector<Descriptor>(126, Descriptor{"zero", 4096, 4096}))));
     },
     false, kUnsupported},
    // qemu 7.2 reads all descriptor sectors into the first sector of its
    // buffer and checks descriptors 126 on in memory nothing wrote: well
    // formed entries with more descriptors fail its search.
    {"entry_with_two_descriptor_sectors",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 3, build_entry(entry(9, std::vector<Descriptor>(127, Descriptor{"zero", 4096, 4096}))));
     },
     false, kInvalid},
    {"entry_without_descriptors",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 3, build_entry(entry(9, {})));
     },
     false, kUnsupported},
    {"chain_of_entries",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 10, build_entry(entry(41)));
         put_entry(p, 12, build_entry(entry(42)));
         put_entry(p, 14, build_entry(entry(43)));
     },
     false, kUnsupported},
    // qemu follows a chain from a valid entry on; its first link may carry
    // any sequence number (its counter is still 0), later links must count
    // up by one. What a link covers is never looked at as a header.
    {"chain_first_link_any_sequence",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(5)));
         Entry b = entry(9, {{"desc", 0}, {"desc", 4096}});
         b.first_data = malformed_header_sector();
         put_entry(p, 2, build_entry(b));
     },
     false, kUnsupported},
    {"chain_later_links_count_up",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(5)));
         put_entry(p, 2, build_entry(entry(6)));
         Entry c = entry(9, {{"desc", 0}, {"desc", 4096}});
         c.first_data = malformed_header_sector();
         put_entry(p, 4, build_entry(c));
     },
     false, kInvalid},
    {"bad_checksum",
     [](const std::string& p) {
         name_log(p);
         Entry e = entry(1);
         e.bad_checksum = true;
         put_entry(p, 0, build_entry(e));
     },
     true, kInvalid},
    {"other_guid",
     [](const std::string& p) {
         name_log(p);
         Entry e = entry(1);
         e.guid = some_guid(3);
         put_entry(p, 0, build_entry(e));
     },
     true, kInvalid},
    {"named_in_the_old_header",
     [](const std::string& p) {
         edit_header(p, other_header(p), kHdLogGuid, kGuid);
         put_entry(p, 0, build_entry(entry(1)));
     },
     true, kInvalid},
    {"sequence_zero",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(0)));
     },
     true, kInvalid},
    {"longer_than_the_log",
     [](const std::string& p) {
         name_log(p);
         Entry e = entry(1);
         e.length_delta = uint32_t(kDefaultLogSize);
         put_entry(p, 0, build_entry(e));
     },
     true, kInvalid},
    {"length_not_in_sectors",
     [](const std::string& p) {
         name_log(p);
         Entry e = entry(1);
         e.length_delta = 512;
         put_entry(p, 0, build_entry(e));
     },
     true, kInvalid},
    {"too_many_descriptors_for_the_length",
     [](const std::string& p) {
         name_log(p);
         Entry e = entry(1, std::vector<Descriptor>(127, Descriptor{"zero", 0, 0}));
         e.length_delta = 0;
         std::vector<uint8_t> b = build_entry(e);
         // 127 descriptors need two sectors, but the entry claims one.
         formats::store_le32(b.data() + kLeEntryLength, kLogSectorSize);
         formats::store_le32(b.data() + kLeDescriptorCount, 129);
         put_entry(p, 0, b);
     },
     true, kInvalid},
    // A header qemu accepts with a malformed descriptor fails its whole
    // search: the image is refused as damaged, checksum or not.
    {"descriptor_signature",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(1, {{"zero", 0, 4096}, {"dexc", 4096}})));
     },
     false, kInvalid},
    {"descriptor_signature_bad_checksum",
     [](const std::string& p) {
         name_log(p);
         Entry e = entry(1, {{"dexc", 4096}});
         e.bad_checksum = true;
         put_entry(p, 0, build_entry(e));
     },
     false, kInvalid},
    {"descriptor_sequence",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(1, {{"desc", 4096, 0, 1}})));
     },
     false, kInvalid},
    {"descriptor_offset_unaligned",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(1, {{"desc", 4096 + 512}})));
     },
     false, kInvalid},
    {"zero_length_unaligned",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(1, {{"zero", 4096, 100}})));
     },
     false, kInvalid},
    {"last_descriptor_of_the_sector",
     [](const std::string& p) {
         name_log(p);
         std::vector<Descriptor> d(126, Descriptor{"zero", 0, 0});
         d[125].signature = "zerO";
         put_entry(p, 0, build_entry(entry(1, d)));
     },
     false, kInvalid},
    // A valid entry first, a malformed one later: qemu's search fails
    // before it would say the log needs replaying.
    {"valid_then_malformed",
     [](const std::string& p) {
         name_log(p);
         put_entry(p, 0, build_entry(entry(1)));
         put_entry(p, 50, build_entry(entry(8, {{"zero", 1, 0}})));
     },
     false, kInvalid},
    // The log's entry as qemu itself wrote it during an allocating write
    // (qemu clears the header's log GUID once the entry is applied).
    {"qemu_written_entry_renamed",
     [](const std::string& p) {
         CommandResult w = run_command(qemu_io() + " -f vhdx -c 'write -P 9 0 4k' " + shell_quote(p));
         ASSERT_EQ(w.status, 0) << w.output;
         std::vector<uint8_t> header = read_range(p, kLogAt, kLogEntryHeaderSize);
         ASSERT_EQ(std::memcmp(header.data(), kLogEntrySignature, 4), 0);
         edit_header(p, current_header(p), kHdLogGuid,
                     std::vector<uint8_t>(header.begin() + kLeLogGuid, header.begin() + kLeLogGuid + kGuidSize));
     },
     false, kUnsupported},
    // The log past the end of the file reads as zeros: nothing to replay.
    {"log_past_end_of_file",
     [](const std::string& p) {
         edit_header(p, current_header(p), kHdLogOffset, le64(kTiB));
         name_log(p);
     },
     true, kInvalid},
    // An entry whose data sectors lie past the end of the file, checksummed
    // over the zeros qemu reads there.
    {"entry_data_past_end_of_file",
     [](const std::string& p) {
         uint64_t log_at = 16 * kMiB;
         edit_header(p, current_header(p), kHdLogOffset, le64(log_at));
         name_log(p);
         Entry e = entry(3, {{"desc", 0}, {"desc", 4096}, {"desc", 8192}});
         e.zero_data = true;
         std::vector<uint8_t> b = build_entry(e);
         b.resize(kLogSectorSize);
         put_entry(p, 0, b, log_at);
     },
     false, kUnsupported},
    // A log qemu cannot even read: wholly, or from its second MiB on.
    {"log_across_block_layer_limit",
     [](const std::string& p) {
         edit_header(p, current_header(p), kHdLogOffset, le64(0x7FFFFFFFC0000000ull - kMiB));
         edit_header(p, current_header(p), kHdLogLength, le32(2 * kMiB));
         name_log(p);
     },
     false, kInvalid},
    {"log_beyond_block_layer",
     [](const std::string& p) {
         edit_header(p, current_header(p), kHdLogOffset, le64(0x7FFFFFFFFFF00000ull));
         name_log(p);
     },
     false, kInvalid},
};

INSTANTIATE_TEST_SUITE_P(Log, VhdxInfoLogs, ::testing::ValuesIn(kLogCases),
                         [](const ::testing::TestParamInfo<LogCase>& p) { return std::string(p.param.name); });

// A log full of one-sector entries numbered in order: qemu's search goes
// round the log forever (each pass ends just past where it began), so
// qemu-img info never answers. Ours gives up after a few passes and
// refuses the image: a deliberate difference.
TEST(VhdxInfo, EndlessLogIsRefusedQuickly) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, "", 64 * kMiB);
    name_log(path);
    for (uint32_t k = 0; k < kLogSectors; ++k) put_entry(path, k, build_entry(entry(k + 1, {})));
    CommandResult r = run_command("timeout 2 " + qemu_img() + " info -f vhdx --output=json " + shell_quote(path));
    EXPECT_EQ(r.status, 124) << "qemu-img info finished: " << r.output;
    auto start = std::chrono::steady_clock::now();
    abi::InfoResult ours;
    EXPECT_EQ(read_info_file(formats::vhdx_read_info, path, ours), Status::unsupported_feature);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// Hostile log lengths cost little: a 4 GiB log named but absent from the
// file, and one whose first entry claims the whole log.
TEST(VhdxInfo, HugeLogsAreCheap) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, "", 64 * kMiB);
    uint64_t log_at = kTiB;
    uint32_t length = 0xFFF00000u;
    edit_header(path, current_header(path), kHdLogOffset, le64(log_at));
    edit_header(path, current_header(path), kHdLogLength, le32(length));
    name_log(path);
    auto start = std::chrono::steady_clock::now();
    expect_same(path, true, "4 GiB log past the end of the file");
    Entry e = entry(1, {});
    std::vector<uint8_t> b = build_entry(e);
    formats::store_le32(b.data() + kLeEntryLength, length);
    // The checksum over the header sector and the zeros after it.
    Crc32c crc;
    std::memset(b.data() + kLeChecksum, 0, 4);
    crc.update(b.data(), b.size());
    crc.update_zeros(uint64_t(length) - b.size());
    formats::store_le32(b.data() + kLeChecksum, crc.value());
    put_entry(path, 0, b, log_at, length / kLogSectorSize);
    abi::InfoResult ours;
    EXPECT_EQ(read_info_file(formats::vhdx_read_info, path, ours), Status::unsupported_feature);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Random damage to a log holding a valid entry, the header naming it, half
// the time with the entry's checksum repaired: qemu decides.
TEST(VhdxInfo, RandomLogDamageAgreesWithQemu) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string base = create(dir, "", 64 * kMiB);
    name_log(base);
    std::vector<uint8_t> pristine = build_entry(entry(6, {{"zero", 8192, 8192}, {"desc", 4096}, {"desc", 0}}));
    std::mt19937 rng(1234);
    int opened = 0, replays = 0, failures = 0;
    for (int iter = 0; iter < 30; ++iter) {
        std::string path = dir.file("r.vhdx");
        ASSERT_TRUE(copy_file(base, path));
        std::vector<uint8_t> b = pristine;
        int n = 1 + int(rng() % 3);
        for (int k = 0; k < n; ++k) {
            // Header and descriptors, mostly; sometimes a data sector.
            size_t at = rng() % 4 ? rng() % (kLogEntryHeaderSize + 3 * kLogDescriptorSize) : rng() % b.size();
            b[at] = uint8_t(rng());
        }
        if (rng() % 2) {
            std::memset(b.data() + kLeChecksum, 0, 4);
            formats::store_le32(b.data() + kLeChecksum, crc32c(b.data(), b.size()));
        }
        put_entry(path, uint32_t(rng() % kLogSectors), b);
        QemuJson q = qemu_info_json(path, "vhdx");
        abi::InfoResult ours;
        Status s = read_info_file(formats::vhdx_read_info, path, ours);
        EXPECT_EQ(s == formats::kOk, q.ok) << "iteration " << iter << ": " << q.text;
        if (q.ok && s == formats::kOk) {
            EXPECT_TRUE(same_info(q.json, ours, abi::Format::vhdx, "vhdx")) << "iteration " << iter;
            ++opened;
        } else if (!q.ok && s != formats::kOk) {
            bool replay = q.text.find("contains a log that needs to be replayed") != std::string::npos;
            EXPECT_EQ(replay, s == Status::unsupported_feature) << "iteration " << iter << ": " << q.text;
            ++(replay ? replays : failures);
        }
    }
    // The damage reaches each outcome.
    EXPECT_GT(opened, 0);
    EXPECT_GT(replays, 0);
    EXPECT_GT(failures, 0);
}

TEST(VhdxInfo, ClearsTheResult) {
    INSTAR_REQUIRE_QEMU_IMG();
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    std::string path = create(dir, "", 64 * kMiB);
    expect_clears_result(formats::vhdx_read_info, abi::Format::vhdx, "vhdx", path);
}

TEST(VhdxInfo, NeedsOnlyLittleScratch) {
    expect_needs_scratch(formats::vhdx_read_info, 8);
}

}  // namespace
}  // namespace instar::testing
