#include "image/qemu_paths.h"

#include <algorithm>

namespace instar::image {
namespace {

// A name like "nbd:host" or "json:{...}": a ':' before any '/'.
bool has_protocol(const std::string& path) {
    size_t p = path.find_first_of(":/");
    return p != std::string::npos && path[p] == ':';
}

}  // namespace

std::string qemu_path_combine(const std::string& base, const std::string& name) {
    if (!name.empty() && name[0] == '/') return name;
    // Keep the base's directory part (and a protocol prefix, if any).
    size_t keep = 0;
    if (has_protocol(base)) keep = base.find(':') + 1;
    size_t slash = base.rfind('/');
    if (slash != std::string::npos) keep = std::max(keep, slash + 1);
    return base.substr(0, keep) + name;
}

std::optional<std::string> qemu_full_backing_filename(const std::string& image_filename, const std::string& backing) {
    if (backing.empty()) return std::nullopt;
    if (backing[0] == '/' || has_protocol(backing)) return backing;
    if (image_filename.empty() || image_filename.rfind("json:", 0) == 0) return std::nullopt;
    return qemu_path_combine(image_filename, backing);
}

}  // namespace instar::image
