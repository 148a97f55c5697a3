#include "image/allowlist.h"

#include <cerrno>
#include <cstdlib>

#include "host/error.h"

namespace instar::image {

std::string real_directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    char* real = realpath(dir.c_str(), nullptr);
    if (!real) throw_errno("Could not open '" + path + "'", errno);
    std::string out = real;
    std::free(real);
    return out;
}

const ConfinedOpener& Allowlist::opener() {
    if (!opener_) {
        std::vector<std::string> roots = dirs_;
        if (roots.empty()) roots.push_back(real_directory_of(image_path_));
        opener_ = std::make_unique<ConfinedOpener>(roots);
    }
    return *opener_;
}

}  // namespace instar::image
