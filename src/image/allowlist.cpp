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

InputFile Allowlist::open(const std::string& path, const std::string& name, struct stat& st) {
    InputFile file(opener().open_read_only(path, name), 0);
    if (fstat(file.fd(), &st) < 0) throw_errno("Could not open '" + name + "'", errno);
    return InputFile(file.take(), uint64_t(st.st_size));
}

}  // namespace instar::image
