#include "host/confined_open.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "host/error.h"

namespace instar {

namespace {

void refuse_unless_regular(const struct stat& st, const std::string& name) {
    if (S_ISREG(st.st_mode)) return;
    // qemu would open a device node with its host_device driver; a file an
    // image names is never a device here (docs/security.md).
    if (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode))
        throw Error("Could not open '" + name + "': a device node named by an image is not opened");
    throw Error("'file' driver requires '" + name + "' to be a regular file");
}

// `path_fd`: an O_PATH descriptor of what the name led to. Returns a
// read-only descriptor of the same file, once it is known to be regular.
int reopen_regular_file(int path_fd, int root_fd, const std::string& below, const std::string& name) {
    struct stat st;
    if (fstat(path_fd, &st) < 0) {
        const int e = errno;
        close(path_fd);
        throw_errno("Could not open '" + name + "'", e);
    }
    try {
        refuse_unless_regular(st, name);
    } catch (...) {
        close(path_fd);
        throw;
    }
    // The very inode just checked, through its /proc link; where /proc is
    // not mounted, the name again (a file swapped in between is caught by
    // the inode check below, though its open has happened by then).
    int fd = open(("/proc/self/fd/" + std::to_string(path_fd)).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        open_how how{};
        how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        fd = int(syscall(SYS_openat2, root_fd, below.c_str(), &how, sizeof how));
    }
    const int e = errno;
    close(path_fd);
    if (fd < 0) throw_errno("Could not open '" + name + "'", e);
    struct stat again;
    if (fstat(fd, &again) < 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
        close(fd);
        throw Error("Could not open '" + name + "': the file changed while it was opened");
    }
    return fd;
}

}  // namespace

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
        // O_PATH first: opening a device node can act (a watchdog starts,
        // a tape rewinds), and a FIFO's open would block, so nothing is
        // opened for reading until fstat says it is a regular file.
        open_how how{};
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, r.fd, below.c_str(), &how, sizeof how);
        if (fd < 0) {
            if (errno == EXDEV || errno == ELOOP) break;  // escapes this root: say nothing more
            throw_errno("Could not open '" + name + "'", errno);
        }
        return reopen_regular_file(int(fd), r.fd, below, name);
    }
    throw Error("Could not open '" + name + "': not in an allowed directory (see --backing-dir)");
}

}  // namespace instar
