// `instar info` output: what qemu-img 7.2 `info` prints, human and JSON
// (--output=json), for one image or a --backing-chain list, rendered from
// images the host has checked (CheckedInfoImage, info_model.h). Nothing
// here reads image bytes or checks them again.
//
// Human output escapes every guest-reported string (and file names, which
// with --backing-chain come from the guest too) with escape_untrusted:
// identical to qemu-img for printable ASCII without '\'. JSON output
// escapes strings exactly as qemu does (ASCII only, \uXXXX).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image/info_model.h"

namespace instar::cli {

using image::CheckedInfoImage;
using image::InfoImage;
using image::LuksSlotInfo;
using image::Qcow2Encryption;

// Lines of `qemu-img info` (`--backing-chain` when chain.size() > 1):
// images separated by an empty line. Throws instar::Error for no image.
std::string render_info_human(const std::vector<CheckedInfoImage>& chain);

// `qemu-img info --output=json`: one object, or with backing_chain a list
// of objects (even for a single image), then "\n". Throws for no image, or
// several without backing_chain.
std::string render_info_json(const std::vector<CheckedInfoImage>& chain, bool backing_chain);

// Call once before the seccomp sandbox closes: loads the local time zone
// (snapshot dates are printed in local time, as qemu-img does), which
// needs to open and stat files. Rendering only reads the loaded zone, and
// never calls tzset() itself (glibc would stat /etc/localtime again).
void prepare_info_render();

// qemu's size_to_str(): "0 B", "512 B", "0.977 KiB", "1.21 MiB", "16 EiB".
std::string qemu_size_to_str(uint64_t bytes);

}  // namespace instar::cli
