#include "image/info_session.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "abi/ops/info.h"
#include "host/error.h"
#include "host/guest_fault.h"
#include "image/allowlist.h"
#include "image/info_validate.h"
#include "image/input_file.h"
#include "image/qemu_paths.h"

namespace instar::image {
namespace {

// What qemu-img says when the bytes are not in the format asked for.
std::string mismatch_text(abi::Format f, const std::string& name) {
    switch (f) {
    case abi::Format::qcow2: return "Image is not in qcow2 format";
    case abi::Format::vmdk: return "invalid VMDK image descriptor";
    case abi::Format::vpc: return "invalid VPC image";
    case abi::Format::vhdx: return "Could not open '" + info_error_name(name) + "': Invalid argument";
    default: return "Image is not in the requested format";
    }
}

std::string guest_failure_text(const GuestFailed& e, abi::Format requested, const std::string& name) {
    switch (e.code()) {
    case abi::GuestError::image_format_mismatch: return mismatch_text(requested, name);
    case abi::GuestError::image_format_unknown:
        return "image format is unknown and the file has no partition table (use -f raw, or --unsafe-quirks "
               "for qemu-img's raw fallback)";
    default: return e.what();
    }
}

// The files a vmdk descriptor's extents live in, open for the guest.
struct ExtentFiles {
    std::vector<InputFile> files;
    uint64_t allocated = 0;  // st_blocks * 512, summed over the extents
};

// A descriptor may name a file per 2 GiB of disk: one descriptor (of the
// up to 17 of a chain) at a time holds that many open. The soft limit is
// often 1024; the hard one is the system's to set.
void allow_open_files(size_t count) {
    constexpr rlim_t kHeadroom = 64;  // stdio, KVM, pipes, the chain's images
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
    const rlim_t want = rlim_t(count) + kHeadroom;
    if (limit.rlim_cur >= want) return;
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > want ? want : limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);  // when it fails, opening says so
}

// Opens each extent file as qemu does: a name relative to the directory of
// the descriptor (`image_path`, as opened), beneath the allowlist only;
// errors name the file as qemu does, relative to how the image was named.
void open_extent_files(const std::vector<std::string>& names, const InfoImage& image, const std::string& image_path,
                       Allowlist& allowlist, ExtentFiles& out) {
    const std::string dir = real_directory_of(image_path);
    allow_open_files(names.size());
    for (const std::string& name : names) {
        // Names come from the image: escaped in every message.
        const std::string shown = info_error_name(qemu_path_combine(image.filename, name));
        const std::string path = name[0] == '/' ? name : dir + "/" + name;
        // A regular file, or refused (a device node is never opened).
        struct stat st;
        out.files.push_back(allowlist.open(path, shown, st));
        out.allocated += uint64_t(st.st_blocks) * 512;
    }
}

GuestOutput run_info_guest(const GuestRun& run, abi::Format requested, const std::string& filename) {
    try {
        return run_guest_in_child(run);
    } catch (const GuestFailed& e) {
        throw Error("Could not open '" + info_error_name(filename) + "': " + guest_failure_text(e, requested, filename));
    }
}

// One image of the chain: run the `info` guest on an open file (`path`:
// how it was opened) and fill in what it reports, checked. A vmdk
// descriptor takes two runs: the first names the extent files, the second
// reads them. Each run is in a sandboxed child: this process goes on to open
// the files a run names, and the next image of the chain.
CheckedInfoImage inspect(const InputFile& file, const std::string& path, abi::Format requested,
                         const InfoQuery& query, const GuestRun& run_template, Allowlist& allowlist,
                         InfoImage image) {
    GuestRun run = run_template;
    run.op = abi::OpId::info;
    run.op_name = "info";
    run.inputs.push_back(Disk{file.fd(), file.size(), file.size(), 512});
    abi::InfoRequest req{uint32_t(requested), query.unsafe_quirks ? abi::kInfoUnsafeQuirks : 0u};
    run.op_config.assign(reinterpret_cast<uint8_t*>(&req), reinterpret_cast<uint8_t*>(&req) + sizeof req);
    run.record_kinds = info_record_kinds();
    GuestOutput output = run_info_guest(run, requested, image.filename);

    ExtentFiles extents;
    std::optional<std::vector<std::string>> names;
    if (output.result_as<abi::InfoResult>("info").flags & abi::kInfoNeedsExtentFiles) {
        try {
            names = accept_extent_file_request(output);
            open_extent_files(*names, image, path, allowlist, extents);
        } catch (const Error& e) {
            throw Error("Could not open '" + info_error_name(image.filename) + "': " + e.what());
        }
        image.actual_size += extents.allocated;
        for (const InputFile& f : extents.files) run.inputs.push_back(Disk{f.fd(), f.size(), f.size(), 512});
        output = run_info_guest(run, requested, image.filename);
    }
    return accept_info_output(output, requested, names ? &*names : nullptr, std::move(image));
}

}  // namespace

std::vector<CheckedInfoImage> read_info_chain(const InfoQuery& query, const GuestRun& run,
                                              std::vector<InputFile>* opened) {
    abi::Format requested = query.format;
    InputFile file;
    try {
        file = open_input(query.filename);
    } catch (const Error&) {
        int e = errno ? errno : ENOENT;
        throw Error("Could not open '" + query.filename + "': Could not open '" + query.filename +
                    "': " + std::strerror(e));
    }

    std::vector<CheckedInfoImage> chain;
    std::set<std::pair<dev_t, ino_t>> seen;
    Allowlist allowlist(query.backing_dirs, query.filename);

    std::string name = query.filename;  // as qemu-img prints it
    std::string path = query.filename;  // as opened
    for (;;) {
        struct stat st;
        if (fstat(file.fd(), &st) < 0) throw_errno("Could not open '" + info_error_name(name) + "'", errno);
        if (!seen.insert({st.st_dev, st.st_ino}).second)
            throw Error("Backing file '" + info_error_name(name) + "' creates an infinite loop");
        if (chain.size() == kMaxChainDepth)
            throw Error("backing chain of '" + query.filename + "' is deeper than " +
                        std::to_string(kMaxChainDepth) + " images");
        InfoImage image;
        image.filename = name;
        image.actual_size = uint64_t(st.st_blocks) * 512;
        chain.push_back(inspect(file, path, requested, query, run, allowlist, std::move(image)));
        if (opened) opened->push_back(std::move(file));
        file = InputFile();
        const InfoImage& shown = *chain.back();
        std::optional<std::string> backing = info_backing_file(shown.info);
        if (!query.backing_chain || !backing) break;

        // Follow the backing file: only beneath the allowed directories,
        // and only a regular file (its size is its length).
        std::optional<std::string> next_name = info_full_backing_filename(shown);
        if (!next_name) throw Error("Could not open backing file of '" + info_error_name(name) + "'");
        std::string candidate = (*backing)[0] == '/' ? *backing : real_directory_of(path) + "/" + *backing;
        struct stat next_st;
        file = allowlist.open(candidate, info_error_name(*backing), next_st);
        name = *next_name;
        path = candidate;
        requested = abi::Format::none;
        if (shown.info.flags & abi::kInfoHasBackingFormat) {
            std::string fmt = info_string(shown.info.backing_format);
            requested = abi::format_from_name(fmt.data(), fmt.size());
            if (requested == abi::Format::none)
                throw Error("Could not open '" + info_error_name(name) + "': Unknown driver '" +
                            info_error_name(fmt) + "'");
        }
    }
    return chain;
}

}  // namespace instar::image
