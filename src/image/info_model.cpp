#include "image/info_model.h"

#include "abi/format.h"
#include "host/escape.h"
#include "image/qemu_paths.h"

namespace instar::image {

const char* info_format_name(uint32_t format) {
    const char* name = abi::format_name(abi::Format(format));
    return name ? name : "unknown";
}

std::optional<std::string> info_backing_file(const abi::InfoResult& info) {
    if (!(info.flags & abi::kInfoHasBacking)) return std::nullopt;
    std::string name = info_string(info.backing_file);
    if (name.empty()) return std::nullopt;
    return name;
}

std::optional<std::string> info_full_backing_filename(const InfoImage& image) {
    auto backing = info_backing_file(image.info);
    if (!backing) return std::nullopt;
    return qemu_full_backing_filename(image.filename, *backing);
}

std::string info_error_name(const std::string& name) { return escape_untrusted(name); }

}  // namespace instar::image
