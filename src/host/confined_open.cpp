#include "host/confined_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "host/error.h"

namespace instar {

std::string absolute_path(const std::string& path) {
    if (!path.empty() && path[0] == '/') return path;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) throw_errno("cannot read the current directory", errno);
    return std::string(cwd) + "/" + path;
}

ConfinedOpener::ConfinedOpener(const std::vector<std::string>& roots) {
    for (const std::string& r : roots) {
        char* canonical = realpath(r.c_str(), nullptr);
        if (!canonical) throw_errno("cannot use '" + r + "' as an allowed directory", errno);
        std::string path = canonical;
        std::free(canonical);
        int fd = open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw_errno("cannot use '" + r + "' as an allowed directory", errno);
        if (path.size() > 1 && path.back() == '/') path.pop_back();
        roots_.push_back({path, fd});
    }
}

ConfinedOpener::~ConfinedOpener() {
    for (const Root& r : roots_) close(r.fd);
}

int ConfinedOpener::open_read_only(const std::string& path, const std::string& name) const {
    // The image's own directory was resolved with realpath when it was
    // opened, so an allowed path starts with a root's canonical name; the
    // rest is handed to the kernel, which refuses any escape.
    std::string full = absolute_path(path);
    for (const Root& r : roots_) {
        std::string prefix = r.path == "/" ? "/" : r.path + "/";
        if (full.compare(0, prefix.size(), prefix) != 0) continue;
        std::string below = full.substr(prefix.size());
        if (below.empty()) continue;
        open_how how{};
        // O_NONBLOCK: a FIFO an image names must not hang the open (it
        // changes nothing for regular files and block devices).
        how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, r.fd, below.c_str(), &how, sizeof how);
        if (fd >= 0) return int(fd);
        if (errno == EXDEV || errno == ELOOP) break;  // escapes this root: say nothing more
        throw_errno("Could not open '" + name + "'", errno);
    }
    throw Error("Could not open '" + name + "': not in an allowed directory (see --backing-dir)");
}

}  // namespace instar
