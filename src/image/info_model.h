// What `instar info` knows of one image once the guest has answered: the
// typed result and its record lists, the file facts the host adds, and the
// checked form (CheckedInfoImage) that is the only thing the renderers
// take. The bottom of the info layers: it includes no other of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abi/ops/create.h"
#include "abi/ops/info.h"

namespace instar {
struct GuestOutput;
}

namespace instar::image {

// qemu shows the encryption of a qcow2 under "encrypt:": the format, and
// for LUKS what the LUKS header says, filled from abi::InfoQcow2
// (qcow2_encryption_of() in info_validate.h). Names are qemu's QAPI enum
// names ("aes-256", "xts", "plain64", "sha256", ...).
struct LuksSlotInfo {
    bool active = false;
    uint64_t iters = 0;    // shown for active slots only
    uint64_t stripes = 0;  // shown for active slots only
    uint64_t key_offset = 0;
};

struct Qcow2Encryption {
    enum class Format { aes, luks };
    Format format = Format::aes;
    // luks only:
    std::string cipher_alg;
    std::string cipher_mode;
    std::string ivgen_alg;
    std::optional<std::string> ivgen_hash_alg;
    std::string hash_alg;
    uint64_t payload_offset = 0;
    uint64_t master_key_iters = 0;
    std::string uuid;  // header bytes, up to 40
    std::vector<LuksSlotInfo> slots;
};

struct InfoImage {
    // As qemu-img prints it: the FILENAME operand for the first image;
    // with --backing-chain, image i+1's filename must be
    // info_full_backing_filename(chain[i]) (that is what qemu opens and prints).
    std::string filename;
    abi::InfoResult info{};
    std::vector<abi::InfoSnapshot> snapshots;  // info.snapshot_count of them
    std::vector<abi::InfoBitmap> bitmaps;      // qcow2: info.qcow2.bitmap_count of them
    std::vector<abi::InfoVmdkExtent> extents;  // vmdk: info.vmdk.extent_count of them
    // st_blocks * 512 of the file; for a vmdk descriptor, qemu adds every
    // extent file's, once per extent (a qcow2 external data file is not
    // counted).
    uint64_t actual_size = 0;
    // Exactly when info.qcow2.encrypt_format is not none, and of that format.
    std::optional<Qcow2Encryption> encryption;
};

class CheckedInfoImage;
CheckedInfoImage check_info_image(InfoImage image);

// An InfoImage every field of which has passed the host's checks, made
// only by info_validate.cpp: check_info_image(), and accept_info_output()
// for a guest's answer.
class CheckedInfoImage {
public:
    const InfoImage& operator*() const { return image_; }
    const InfoImage* operator->() const { return &image_; }

private:
    explicit CheckedInfoImage(InfoImage image) : image_(std::move(image)) {}
    friend CheckedInfoImage check_info_image(InfoImage image);
    friend CheckedInfoImage accept_info_output(const GuestOutput& output, abi::Format requested,
                                               const std::vector<std::string>* extent_files, InfoImage image);
    InfoImage image_;
};

// The string in an InfoString as qemu holds it: a C string, so it ends at
// the first NUL byte.
template <uint32_t N>
std::string info_string(const abi::InfoString<N>& s) {
    uint32_t n = s.length <= N ? s.length : N;
    std::string_view v(s.bytes, n);
    return std::string(v.substr(0, v.find('\0')));
}

// "raw", "qcow2", "vmdk", "vpc", "vhdx" for InfoResult::format.
const char* info_format_name(uint32_t format);

// The backing file name qemu reports, or nullopt when it reports none
// (no backing file, or a name that is empty as a C string).
std::optional<std::string> info_backing_file(const abi::InfoResult& info);

// The name qemu shows as "full-backing-filename" and opens as the next
// image of a chain (qemu_full_backing_filename() of the image's name and
// its backing file), or nullopt.
std::optional<std::string> info_full_backing_filename(const InfoImage& image);

// A file or format name as an error message shows it. With
// --backing-chain names come from images, and an error is one line of
// plain text: escaped as in human output.
std::string info_error_name(const std::string& name);

}  // namespace instar::image
