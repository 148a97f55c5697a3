// The vmdk block reader on images qemu-img and qemu-io made: every byte
// read equals `qemu-img convert -O raw` of the same image, and block status
// agrees with `qemu-img map --output=json` (the offsets included), for
// monolithicSparse (zeroed grains too) and streamOptimized images.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "block_vpc_vhdx_support.h"

namespace instar::testing::block {
namespace {

using testing::qcow2::make_image;

// Data inside a grain and over grain and grain-table boundaries, zero
// writes (zeroed grains where the image has them), data at the end.
std::string writes(const std::string& fmt_opts) {
    const std::vector<std::string> cmds = {"write -P 0x5a 0 300k", "write -P 0xa5 3M 3k", "write -z 8M 2M",
                                           "write -P 0x11 10M 64k", "write -P 0x77 12287k 2M",
                                           "write -P 0x33 63M 1M"};
    std::string out = "$QI create -q -f vmdk " + fmt_opts + " img.vmdk 64M && $QIO -f vmdk";
    for (const std::string& c : cmds) out += " -c \"" + c + "\"";
    return out + " img.vmdk >/dev/null";
}

struct VmdkCase {
    const char* name;
    std::string script;  // makes img.vmdk in a fresh directory
};

std::vector<VmdkCase> cases() {
    return {
        {"sparse", writes("")},
        {"sparse_zeroed_grain", writes("-o zeroed_grain=on")},
        // streamOptimized images are written once, by convert.
        {"stream", writes("") + " && $QI convert -f vmdk -O vmdk -o subformat=streamOptimized img.vmdk s.vmdk && "
                                "mv s.vmdk img.vmdk"},
        {"stream_empty", "$QI create -q -f vmdk -o subformat=streamOptimized img.vmdk 64M"},
    };
}

class BlockVmdkImages : public ::testing::TestWithParam<VmdkCase> {};

TEST_P(BlockVmdkImages, ReadsAndMapsAsQemuDoes) {
    INSTAR_REQUIRE_QEMU_IMG_AND_IO();
    TempDir dir;
    ASSERT_TRUE(make_image(dir, GetParam().script));
    expect_like_qemu(dir, dir.file("img.vmdk"), abi::Format::vmdk, "vmdk");
}

INSTANTIATE_TEST_SUITE_P(BlockImages, BlockVmdkImages, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<VmdkCase>& info) { return info.param.name; });

}  // namespace
}  // namespace instar::testing::block
