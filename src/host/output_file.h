// Writing an output file so that nothing is lost on failure: the new image
// is built in a temporary file beside the target and renamed over it only
// on success. An existing target keeps its mode (and owner, when we can);
// a symlink at the target is followed, as qemu-img's open() would.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace instar {

class OutputFile {
public:
    explicit OutputFile(const std::string& path);
    ~OutputFile();  // removes the temporary file unless committed
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    int fd() const { return fd_; }
    int dir_fd() const { return dir_fd_; }
    const std::string& target() const { return target_; }  // the path that will be replaced

    // Sets the final length, permissions, and renames into place.
    void commit(uint64_t size);

private:
    std::string shown_path_;  // as the user typed it, for messages
    std::string target_;
    std::string temp_name_;   // relative to dir_fd_
    std::string final_name_;  // relative to dir_fd_
    int dir_fd_ = -1;
    int fd_ = -1;
    mode_t mode_ = 0644;
    uid_t uid_ = uid_t(-1);
    gid_t gid_ = gid_t(-1);
    bool committed_ = false;
};

// Follows symlinks at `path` (up to 40, like the kernel) to the file a
// write would really reach; returns `path` when it is not a symlink.
std::string resolve_write_target(const std::string& path);

}  // namespace instar
