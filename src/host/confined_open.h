// Opening a file named by an image (a backing file) only where the user
// allowed it. The check is the kernel's: openat2 with RESOLVE_BENEATH below
// an allowed directory, so "..", absolute names and symlinks cannot lead
// out, and there is no window between checking a path and opening it.
#pragma once

#include <string>
#include <vector>

namespace instar {

class ConfinedOpener {
public:
    // `roots`: directories (any form; each is resolved once, here).
    explicit ConfinedOpener(const std::vector<std::string>& roots);
    ~ConfinedOpener();
    ConfinedOpener(const ConfinedOpener&) = delete;
    ConfinedOpener& operator=(const ConfinedOpener&) = delete;

    // Opens `path` (absolute, or relative to the current directory)
    // read-only if it lies beneath one of the roots and is a regular file
    // (anything else is refused before it is opened for reading: a device
    // node an image names is never touched). Returns the fd; throws
    // Error. A path outside every root fails with the same message whether
    // or not it exists: `name` (how the image spelled it) is not allowed.
    int open_read_only(const std::string& path, const std::string& name) const;

private:
    struct Root {
        std::string path;  // canonical, no trailing slash
        int fd;
    };
    std::vector<Root> roots_;
};

// Lexically absolute form of `path` (prefixing the current directory), with
// no symlink resolution: what the kernel check then works on.
std::string absolute_path(const std::string& path);

}  // namespace instar
