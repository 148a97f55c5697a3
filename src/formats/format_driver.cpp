#include "formats/format_driver.h"

#include "formats/common/qemu_block_view.h"
#include "formats/qcow2/qcow2_create.h"
#include "formats/qcow2/qcow2_info.h"
#include "formats/qcow2/qcow2_probe.h"
#include "formats/qcow2/qcow2_reader.h"
#include "formats/qcow2/qcow2_writer.h"
#include "formats/raw/partition_table.h"
#include "formats/raw/raw_reader.h"
#include "formats/vhdx/vhdx_create.h"
#include "formats/vhdx/vhdx_info.h"
#include "formats/vhdx/vhdx_probe.h"
#include "formats/vhdx/vhdx_reader.h"
#include "formats/vhdx/vhdx_writer.h"
#include "formats/vmdk/vmdk_create.h"
#include "formats/vmdk/vmdk_probe.h"
#include "formats/vmdk/vmdk_reader.h"
#include "formats/vmdk/vmdk_writer.h"
#include "formats/vpc/vpc_create.h"
#include "formats/vpc/vpc_info.h"
#include "formats/vpc/vpc_probe.h"
#include "formats/vpc/vpc_reader.h"
#include "formats/vpc/vpc_writer.h"

namespace instar::formats {
namespace {

Status raw_read_basic(ImageSource& src, Arena&, BasicImageInfo& out) {
    out = BasicImageInfo{};
    out.virtual_size = qemu_file_length(src);  // qemu counts whole sectors
    return kOk;
}

Status raw_read_info(const InfoReadContext& c, abi::InfoResult& out) {
    out.format = uint32_t(abi::Format::raw);
    out.virtual_size = qemu_file_length(c.src);
    if (has_partition_table(c.head, c.head_len)) out.flags |= abi::kInfoHasPartitionTable;
    return kOk;
}

Status qcow2_info(const InfoReadContext& c, abi::InfoResult& out) {
    return qcow2_read_info(c.src, c.arena, c.records, out);
}
Status vmdk_info(const InfoReadContext& c, abi::InfoResult& out) {
    return vmdk_read_info(c.src, c.arena, c.vmdk_extent_files, c.records, out);
}
Status vpc_info(const InfoReadContext& c, abi::InfoResult& out) { return vpc_read_info(c.src, c.arena, out); }
Status vhdx_info(const InfoReadContext& c, abi::InfoResult& out) { return vhdx_read_info(c.src, c.arena, out); }

// Indexed by abi::Format.
constexpr FormatDriver kDrivers[] = {
    {abi::Format::none, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
    {abi::Format::raw, nullptr, raw_read_basic, raw_read_info, nullptr, raw_open_reader, nullptr},
    {abi::Format::qcow2, qcow2_detect, qcow2_read_basic, qcow2_info, qcow2_emit, qcow2_open_reader,
     qcow2::open_writer},
    {abi::Format::vmdk, vmdk_detect, vmdk_read_basic, vmdk_info, vmdk_emit, vmdk_open_reader, vmdk::open_writer},
    {abi::Format::vpc, vpc_detect, vpc_read_basic, vpc_info, vpc_emit, vpc_open_reader, vpc::open_writer},
    {abi::Format::vhdx, vhdx_detect, vhdx_read_basic, vhdx_info, vhdx_emit, vhdx_open_reader,
     vhdx::open_writer},
};
static_assert(sizeof kDrivers / sizeof kDrivers[0] == abi::kFormatCount);

constexpr bool indexed_by_format() {
    for (uint32_t i = 0; i < abi::kFormatCount; ++i)
        if (uint32_t(kDrivers[i].format) != i) return false;
    return true;
}
static_assert(indexed_by_format());

// qemu probes every driver and takes the best score; the four signatures
// exclude each other, so the order only has to be fixed.
constexpr const FormatDriver* kSigned[] = {&kDrivers[2], &kDrivers[3], &kDrivers[4], &kDrivers[5]};

}  // namespace

const FormatDriver* format_driver(abi::Format format) {
    const uint32_t i = uint32_t(format);
    return i != 0 && i < abi::kFormatCount ? &kDrivers[i] : nullptr;
}

const FormatDriver* const* SignedFormats::begin() const { return kSigned; }
const FormatDriver* const* SignedFormats::end() const { return kSigned + sizeof kSigned / sizeof kSigned[0]; }

}  // namespace instar::formats
