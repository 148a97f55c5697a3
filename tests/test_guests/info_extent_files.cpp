// An `info` guest that abuses the vmdk extent-file exchange: its first run
// asks for files, its second answers about other files, or asks again.
// Device 0's first bytes say which:
//   "newline" ask for a name no extent line can hold ("a\nb");
//   "many"    ask for one file name more than the host attaches;
//   "lie"     ask for x.raw, then report an extent in y.raw;
//   "again"   ask for x.raw, then ask again instead of answering.
#include "abi/ops/info.h"
#include "guest/block_io.h"
#include "guest/libc.h"
#include "guest/op.h"

namespace {

using namespace instar;

bool is(const uint8_t* head, const char* word) { return memcmp(head, word, strlen(word)) == 0; }

template <uint32_t N>
void set(abi::InfoString<N>& s, const char* text) {
    s.length = uint32_t(strlen(text));
    memcpy(s.bytes, text, s.length);
}

[[noreturn]] void ask(const char* name, uint32_t count) {
    abi::InfoVmdkExtentFile f{};
    set(f.name, name);
    for (uint32_t i = 0; i < count; ++i) guest::send_record(abi::OpId::info, uint32_t(abi::InfoRecord::vmdk_extent_file), &f, sizeof f);
    abi::InfoResult r{};
    r.format = uint32_t(abi::Format::vmdk);
    r.flags = abi::kInfoNeedsExtentFiles;
    r.vmdk.extent_count = count;
    guest::send_result(abi::OpId::info, r);
}

void run(const abi::BootConfig& config) {
    guest::VirtioBlk dev;
    if (!dev.init(0)) guest::fail(abi::GuestError::device_missing);
    guest::DeviceSource src(dev, config.devices[0].size_bytes);
    uint8_t head[16] = {};
    if (!src.ok() || !src.read(0, head, sizeof head)) guest::fail(abi::GuestError::read_failed);

    if (config.input_count == 1) {
        if (is(head, "newline")) ask("a\nb", 1);
        if (is(head, "many")) ask("x.raw", abi::kInfoMaxVmdkExtents + 1);
        ask("x.raw", 1);
    }
    if (is(head, "again")) ask("x.raw", 1);
    abi::InfoVmdkExtent e{};
    e.virtual_size = 512;
    set(e.filename, "y.raw");
    set(e.format, "FLAT");
    guest::send_record(abi::OpId::info, uint32_t(abi::InfoRecord::vmdk_extent), &e, sizeof e);
    abi::InfoResult r{};
    r.format = uint32_t(abi::Format::vmdk);
    r.virtual_size = 512;
    r.vmdk.extent_count = 1;
    set(r.vmdk.create_type, "monolithicFlat");
    guest::send_result(abi::OpId::info, r);
}

}  // namespace

INSTAR_GUEST_OP(3, instar::abi::OpId::info, run);
