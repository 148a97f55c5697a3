// How qemu combines file names: a backing file's name relative to the
// image that names it, a vmdk extent's relative to its descriptor. Pure
// string work, as qemu does it (no file system access).
#pragma once

#include <optional>
#include <string>

namespace instar::image {

// qemu's path_combine(): `name` relative to the directory part of `base`
// unless absolute. It names vmdk extent files ("sub/x.vmdk" + "x-s001.vmdk"
// = "sub/x-s001.vmdk"; unlike backing files, "a:b" is not a protocol here).
std::string qemu_path_combine(const std::string& base, const std::string& name);

// qemu's "full-backing-filename" (and the name it opens for the next image
// of the chain): the backing name as is when it is absolute or has a
// protocol prefix ("nbd:..."), else relative to the image's directory as
// written in `image_filename` ("sub/t.qcow2" + "b.qcow2" = "sub/b.qcow2").
// nullopt when qemu cannot determine it (image name "json:..." or empty).
std::optional<std::string> qemu_full_backing_filename(const std::string& image_filename,
                                                      const std::string& backing);

}  // namespace instar::image
