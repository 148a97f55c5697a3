#include "host/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "host/error.h"
#include "host/interrupt.h"

namespace instar {
namespace {

std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string temp_name_for(const std::string& final_name) {
    static std::atomic<unsigned> counter{0};
    return "." + final_name + ".instar-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

std::string resolve_write_target(const std::string& path) {
    std::string current = path;
    for (int depth = 0; depth < 40; ++depth) {
        struct stat st;
        if (lstat(current.c_str(), &st) < 0 || !S_ISLNK(st.st_mode)) return current;
        std::string link(size_t(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
        ssize_t n = readlink(current.c_str(), link.data(), link.size());
        if (n < 0 || size_t(n) >= link.size()) return current;  // let open() report it
        link.resize(size_t(n));
        current = link.front() == '/' ? link : dir_of(current) + "/" + link;
    }
    return current;
}

OutputFile::OutputFile(const std::string& path) : shown_path_(path) {
    if (path.empty()) throw Error("no output file name given");
    target_ = resolve_write_target(path);
    final_name_ = base_of(target_);
    if (final_name_.empty() || final_name_ == "." || final_name_ == "..")
        throw Error("cannot create '" + path + "': Is a directory");

    dir_fd_ = open(dir_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) throw_errno("cannot create '" + path + "'", errno);

    struct stat st;
    if (fstatat(dir_fd_, final_name_.c_str(), &st, 0) == 0) {
        if (S_ISDIR(st.st_mode)) {
            close(dir_fd_);
            throw Error("cannot create '" + path + "': Is a directory");
        }
        target_existed_ = true;
        // The replacement is a new file with new contents: like cp, it does
        // not inherit setuid/setgid.
        mode_ = st.st_mode & 07777 & ~mode_t(S_ISUID | S_ISGID);
        // Only root can give the replacement the old file's owner.
        if (geteuid() == 0) {
            uid_ = st.st_uid;
            gid_ = st.st_gid;
        }
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode_ = 0644 & ~mask;  // qemu-img creates images 0644 before the umask
    }

    fd_ = openat(dir_fd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    // EOPNOTSUPP: a file system without O_TMPFILE; EISDIR: a kernel
    // without it (the flag then reads as O_DIRECTORY). An unnamed file is
    // also no use where it could never be linked in: without root's
    // CAP_DAC_READ_SEARCH (linkat AT_EMPTY_PATH) and without /proc.
    if (fd_ >= 0 && geteuid() != 0 && access("/proc/self/fd", X_OK) != 0) {
        close(fd_);
        fd_ = -1;
        errno = EOPNOTSUPP;
    }
    if (fd_ < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
        for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
            temp_name_ = temp_name_for(final_name_);
            {
                // The name is recorded for the interrupt handler before the
                // file exists, so no signal can leave it behind.
                SignalsHeld held;
                interrupt_track_temp(dir_fd_, temp_name_.c_str());
                fd_ = openat(dir_fd_, temp_name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd_ < 0) interrupt_forget_temp();
            }
            if (fd_ < 0 && errno != EEXIST) break;
        }
        if (fd_ < 0) temp_name_.clear();
        named_ = fd_ >= 0;
    }
    if (fd_ < 0) {
        int e = errno;
        close(dir_fd_);
        throw_errno("cannot create '" + path + "'", e);
    }
}

OutputFile::~OutputFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_ && !temp_name_.empty()) {
        SignalsHeld held;
        unlinkat(dir_fd_, temp_name_.c_str(), 0);
        interrupt_forget_temp();
    }
    if (dir_fd_ >= 0) close(dir_fd_);
}

// Gives the unnamed file a name. A new target is linked in directly (one
// step: nothing to leave behind); an existing one is replaced through a
// temporary name and a rename, so it is never missing.
void OutputFile::link_into_place() {
    const std::string fd_path = "/proc/self/fd/" + std::to_string(fd_);
    auto link_as = [&](const std::string& name) {
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd works for
        // anyone where /proc is mounted.
        if (linkat(fd_, "", dir_fd_, name.c_str(), AT_EMPTY_PATH) == 0) return 0;
        if (errno == EEXIST) return EEXIST;
        return linkat(AT_FDCWD, fd_path.c_str(), dir_fd_, name.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
    };
    if (!target_existed_) {
        int e = link_as(final_name_);
        if (e == 0) return;
        if (e != EEXIST) throw_errno("cannot write '" + shown_path_ + "'", e);
        // Someone created the target meanwhile: replace it, as qemu-img would.
    }
    for (int attempt = 0;; ++attempt) {
        temp_name_ = temp_name_for(final_name_);
        interrupt_track_temp(dir_fd_, temp_name_.c_str());
        int e = link_as(temp_name_);
        if (e == 0) break;
        interrupt_forget_temp();
        temp_name_.clear();
        if (e != EEXIST || attempt == 99) throw_errno("cannot write '" + shown_path_ + "'", e);
    }
    if (renameat(dir_fd_, temp_name_.c_str(), dir_fd_, final_name_.c_str()) < 0)
        throw_errno("cannot write '" + shown_path_ + "'", errno);  // the destructor removes the name
}

void OutputFile::commit(uint64_t size) {
    SignalsHeld held;
    if (ftruncate(fd_, off_t(size)) < 0) throw_errno("cannot write '" + shown_path_ + "'", errno);
    if (uid_ != uid_t(-1) && fchown(fd_, uid_, gid_) < 0) throw_errno("cannot write '" + shown_path_ + "'", errno);
    if (fchmod(fd_, mode_) < 0) throw_errno("cannot write '" + shown_path_ + "'", errno);
    if (!named_) {
        link_into_place();
    } else if (renameat(dir_fd_, temp_name_.c_str(), dir_fd_, final_name_.c_str()) < 0) {
        throw_errno("cannot write '" + shown_path_ + "'", errno);
    }
    committed_ = true;
    interrupt_forget_temp();
    interrupt_output_committed();
}

}  // namespace instar
