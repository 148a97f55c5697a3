// The directories in which an operation may open files that an image
// names (backing files, vmdk extent files): those the user allowed, or the
// image's own directory. Files are opened beneath them by the kernel's
// rules (ConfinedOpener), and only when they are regular files.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "host/confined_open.h"
#include "image/input_file.h"

namespace instar::image {

// The canonical directory of `path` (realpath of its directory part);
// throws "Could not open 'PATH': REASON".
std::string real_directory_of(const std::string& path);

class Allowlist {
public:
    // `dirs` (--backing-dir), or when empty the directory of `image_path`.
    // Resolved when first needed, so an image that names no file never
    // touches them.
    Allowlist(std::vector<std::string> dirs, std::string image_path)
        : dirs_(std::move(dirs)), image_path_(std::move(image_path)) {}

    const ConfinedOpener& opener();

    // Opens `path` beneath the allowlist, read-only and only if it is a
    // regular file (ConfinedOpener::open_read_only; `name` is how errors
    // show it), sized by its length. `st` is the file's fstat.
    InputFile open(const std::string& path, const std::string& name, struct stat& st);

private:
    std::vector<std::string> dirs_;
    std::string image_path_;
    std::unique_ptr<ConfinedOpener> opener_;
};

}  // namespace instar::image
