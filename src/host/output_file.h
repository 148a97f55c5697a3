// Writing an output file so that nothing is lost on failure and nothing is
// left behind, even when the process is killed: the new image is an
// unnamed file (O_TMPFILE) in the target's directory, which vanishes with
// its last descriptor, and gets a name only when it is complete (linked
// in, then renamed over the target). Where the file system has no
// O_TMPFILE it is a hidden named file instead, removed on failure and on
// SIGTERM/SIGINT/SIGHUP (host/interrupt.h), but not on SIGKILL.
//
// An existing target keeps its mode (less setuid/setgid, as cp drops them)
// and, when we can, its owner; a symlink at the target is followed, as
// qemu-img's open() would.
//
// Only the process that holds every right does this: the sandboxed child
// that runs the guest only writes through the descriptor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace instar {

class OutputFile {
public:
    explicit OutputFile(const std::string& path);
    ~OutputFile();  // discards the file unless committed
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    int fd() const { return fd_; }
    const std::string& target() const { return target_; }  // the path that will be replaced
    bool named_from_start() const { return named_; }         // the fallback without O_TMPFILE

    // Sets the final length, owner and permissions, and puts the file in
    // place. SIGTERM/SIGINT/SIGHUP are held meanwhile: the target is either
    // replaced or untouched.
    void commit(uint64_t size);

private:
    void link_into_place();

    std::string shown_path_;  // as the user typed it, for messages
    std::string target_;
    std::string temp_name_;   // relative to dir_fd_; empty while unnamed
    std::string final_name_;  // relative to dir_fd_
    int dir_fd_ = -1;
    int fd_ = -1;
    mode_t mode_ = 0644;
    uid_t uid_ = uid_t(-1);
    gid_t gid_ = gid_t(-1);
    bool target_existed_ = false;
    bool named_ = false;
    bool committed_ = false;
};

// Follows symlinks at `path` (up to 40, like the kernel) to the file a
// write would really reach; returns `path` when it is not a symlink.
std::string resolve_write_target(const std::string& path);

}  // namespace instar
