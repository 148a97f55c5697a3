// `instar info` output: what qemu-img 7.2 `info` prints, human and JSON
// (--output=json), for one image or a --backing-chain list, rendered from
// the typed abi::InfoResult the guest returned. Nothing here reads image
// bytes; every InfoResult is validated (info_validate.h) before use.
//
// Human output escapes every guest-reported string (and file names, which
// with --backing-chain come from the guest too) with escape_untrusted:
// identical to qemu-img for printable ASCII without '\'. JSON output
// escapes strings exactly as qemu does (ASCII only, \uXXXX).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi/ops/info.h"

namespace instar::cli {

// qemu shows the encryption of a qcow2 under "encrypt:": the format, and
// for LUKS what the LUKS header says. The CLI fills this from
// abi::InfoQcow2 (qcow2_encryption_of() in info_validate.h). Names are
// qemu's QAPI enum names ("aes-256", "xts", "plain64", "sha256", ...),
// checked by validate_qcow2_encryption().
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

// Lines of `qemu-img info` (`--backing-chain` when chain.size() > 1):
// images separated by an empty line. Throws instar::Error when an image
// fails validation.
std::string render_info_human(const std::vector<InfoImage>& chain);

// `qemu-img info --output=json`: one object, or with backing_chain a list
// of objects (even for a single image), then "\n". Throws like the above.
std::string render_info_json(const std::vector<InfoImage>& chain, bool backing_chain);

// Call once before the seccomp sandbox closes: loads the local time zone
// (snapshot dates are printed in local time, as qemu-img does), which
// needs to open and stat files. Rendering only reads the loaded zone, and
// never calls tzset() itself (glibc would stat /etc/localtime again).
void prepare_info_render();

// Helpers the CLI needs for --backing-chain. All take validated input.

// The string in an InfoString as qemu holds it: a C string, so it ends at
// the first NUL byte.
template <uint32_t N>
std::string info_string(const abi::InfoString<N>& s) {
    uint32_t n = s.length <= N ? s.length : N;
    std::string_view v(s.bytes, n);
    return std::string(v.substr(0, v.find('\0')));
}

// The backing file name qemu reports, or nullopt when it reports none
// (no backing file, or a name that is empty as a C string).
std::optional<std::string> info_backing_file(const abi::InfoResult& info);

// qemu's "full-backing-filename" (and the name it opens for the next image
// of the chain): the backing name as is when it is absolute or has a
// protocol prefix ("nbd:..."), else relative to the image's directory as
// written in `image_filename` ("sub/t.qcow2" + "b.qcow2" = "sub/b.qcow2").
// nullopt when qemu cannot determine it (image name "json:..." or empty).
std::optional<std::string> qemu_full_backing_filename(const std::string& image_filename,
                                                      const std::string& backing);
std::optional<std::string> info_full_backing_filename(const InfoImage& image);

// qemu's path_combine(): `name` relative to the directory part of `base`
// unless absolute. It names vmdk extent files ("sub/x.vmdk" + "x-s001.vmdk"
// = "sub/x-s001.vmdk"; unlike backing files, "a:b" is not a protocol here).
std::string qemu_path_combine(const std::string& base, const std::string& name);

// qemu's size_to_str(): "0 B", "512 B", "0.977 KiB", "1.21 MiB", "16 EiB".
std::string qemu_size_to_str(uint64_t bytes);

// A file or format name as an error message shows it. With
// --backing-chain names come from images, and an error is one line of
// plain text: escaped as in human output.
std::string info_error_name(const std::string& name);

// "raw", "qcow2", "vmdk", "vpc", "vhdx" for InfoResult::format.
const char* info_format_name(uint32_t format);

}  // namespace instar::cli
