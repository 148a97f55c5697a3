#include "host/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "host/error.h"

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
        mode_ = st.st_mode & 07777;
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

    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
        temp_name_ = "." + final_name_ + ".instar-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
        fd_ = openat(dir_fd_, temp_name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) {
        int e = errno;
        close(dir_fd_);
        throw_errno("cannot create '" + path + "'", e);
    }
}

OutputFile::~OutputFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_ && !temp_name_.empty()) unlinkat(dir_fd_, temp_name_.c_str(), 0);
    if (dir_fd_ >= 0) close(dir_fd_);
}

void OutputFile::commit(uint64_t size) {
    if (ftruncate(fd_, off_t(size)) < 0) throw_errno("cannot write '" + shown_path_ + "'", errno);
    if (uid_ != uid_t(-1) && fchown(fd_, uid_, gid_) < 0) throw_errno("cannot write '" + shown_path_ + "'", errno);
    if (fchmod(fd_, mode_) < 0) throw_errno("cannot write '" + shown_path_ + "'", errno);
    if (renameat(dir_fd_, temp_name_.c_str(), dir_fd_, final_name_.c_str()) < 0)
        throw_errno("cannot write '" + shown_path_ + "'", errno);
    committed_ = true;
}

}  // namespace instar
