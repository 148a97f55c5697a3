#include "cli/info.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "abi/ops/info.h"
#include "cli/common.h"
#include "cli/format_named.h"
#include "cli/info_render.h"
#include "cli/info_validate.h"
#include "cli/qemu_paths.h"
#include "host/confined_open.h"
#include "host/error.h"
#include "host/guest_fault.h"

namespace instar::cli {
namespace {

// qemu-img follows backing files without limit (it only detects loops);
// instar stops a chain that runs deeper than this.
constexpr size_t kMaxChainDepth = 16;

struct InfoArgs {
    std::string filename;
    std::string format;
    std::string output = "human";
    bool backing_chain = false;
    bool force_share = false;
    bool unsafe_quirks = false;
    std::vector<std::string> backing_dirs;
    SandboxOptions sandbox;
};

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

std::string real_directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    char* real = realpath(dir.c_str(), nullptr);
    if (!real) throw_errno("Could not open '" + path + "'", errno);
    std::string out = real;
    std::free(real);
    return out;
}

// The directories files an image names may be opened in: --backing-dir,
// or the top image's directory. Made when first needed.
class Allowlist {
public:
    explicit Allowlist(const InfoArgs& args) : args_(args) {}

    const ConfinedOpener& opener() {
        if (!opener_) {
            std::vector<std::string> roots = args_.backing_dirs;
            if (roots.empty()) roots.push_back(real_directory_of(args_.filename));
            opener_ = std::make_unique<ConfinedOpener>(roots);
        }
        return *opener_;
    }

private:
    const InfoArgs& args_;
    std::unique_ptr<ConfinedOpener> opener_;
};

// The files a vmdk descriptor's extents live in, open for the guest.
class ExtentFiles {
public:
    ExtentFiles() = default;
    ExtentFiles(const ExtentFiles&) = delete;
    ExtentFiles& operator=(const ExtentFiles&) = delete;
    ~ExtentFiles() {
        for (const Disk& d : disks) close(d.fd);
    }

    std::vector<Disk> disks;
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
        const int fd = allowlist.opener().open_read_only(path, shown);
        struct stat st;
        if (fstat(fd, &st) < 0) {
            const int e = errno;
            close(fd);
            throw_errno("Could not open '" + shown + "'", e);
        }
        const uint64_t size = uint64_t(st.st_size);
        out.disks.push_back(Disk{fd, size, size, 512});
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
CheckedInfoImage inspect(int fd, uint64_t size, const std::string& path, abi::Format requested,
                         const InfoArgs& args, Allowlist& allowlist, InfoImage image) {
    GuestRun run = make_guest_run(args.sandbox, abi::OpId::info, "info");
    run.inputs.push_back(Disk{fd, size, size, 512});
    abi::InfoRequest req{uint32_t(requested), args.unsafe_quirks ? abi::kInfoUnsafeQuirks : 0u};
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
        run.inputs.insert(run.inputs.end(), extents.disks.begin(), extents.disks.end());
        output = run_info_guest(run, requested, image.filename);
    }
    return accept_info_output(output, requested, names ? &*names : nullptr, std::move(image));
}

void run_info(const InfoArgs& args) {
    abi::Format requested = abi::Format::none;
    if (!args.format.empty()) {
        auto f = format_named(args.format);
        if (!f) throw Error("Could not open '" + args.filename + "': Unknown driver '" + args.format + "'");
        requested = *f;
    }
    if (args.output != "human" && args.output != "json")
        throw Error("--output must be human or json");

    // Snapshot dates are rendered in local time: the zone is loaded once,
    // here, and rendering only reads it.
    prepare_info_render();

    InputFile top;
    try {
        top = open_input(args.filename);
    } catch (const Error&) {
        int e = errno ? errno : ENOENT;
        throw Error("Could not open '" + args.filename + "': Could not open '" + args.filename +
                    "': " + std::strerror(e));
    }

    std::vector<CheckedInfoImage> chain;
    std::set<std::pair<dev_t, ino_t>> seen;
    Allowlist allowlist(args);

    std::string name = args.filename;  // as qemu-img prints it
    std::string path = args.filename;  // as opened
    int fd = top.fd;
    for (;;) {
        struct stat st;
        if (fstat(fd, &st) < 0) throw_errno("Could not open '" + info_error_name(name) + "'", errno);
        if (!seen.insert({st.st_dev, st.st_ino}).second)
            throw Error("Backing file '" + info_error_name(name) + "' creates an infinite loop");
        if (chain.size() == kMaxChainDepth)
            throw Error("backing chain of '" + args.filename + "' is deeper than " + std::to_string(kMaxChainDepth) +
                        " images");
        // The top image may be a block device (its size was read when it was
        // opened); every backing file is a regular file.
        uint64_t size = fd == top.fd ? top.size : uint64_t(st.st_size);
        InfoImage image;
        image.filename = name;
        image.actual_size = uint64_t(st.st_blocks) * 512;
        chain.push_back(inspect(fd, size, path, requested, args, allowlist, std::move(image)));
        close(fd);
        const InfoImage& shown = *chain.back();
        std::optional<std::string> backing = info_backing_file(shown.info);
        if (!args.backing_chain || !backing) break;

        // Follow the backing file: only beneath the allowed directories.
        std::optional<std::string> next_name = info_full_backing_filename(shown);
        if (!next_name) throw Error("Could not open backing file of '" + info_error_name(name) + "'");
        std::string candidate = (*backing)[0] == '/' ? *backing : real_directory_of(path) + "/" + *backing;
        fd = allowlist.opener().open_read_only(candidate, info_error_name(*backing));
        name = *next_name;
        path = candidate;
        requested = abi::Format::none;
        if (shown.info.flags & abi::kInfoHasBackingFormat) {
            std::string fmt = info_string(shown.info.backing_format);
            auto f = format_named(fmt);
            if (!f)
                throw Error("Could not open '" + info_error_name(name) + "': Unknown driver '" +
                            info_error_name(fmt) + "'");
            requested = *f;
        }
    }

    std::cout << (args.output == "json" ? render_info_json(chain, args.backing_chain) : render_info_human(chain));
}

}  // namespace

void add_info_command(CLI::App& app) {
    auto args = std::make_shared<InfoArgs>();
    CLI::App* cmd = app.add_subcommand("info", "Show an image's format, size and metadata (as qemu-img info)");
    cmd->add_option("FILENAME", args->filename, "Image to inspect")->required();
    cmd->add_option("-f,--format", args->format, "Image format (default: detect)");
    cmd->add_option("--output", args->output, "human (default) or json");
    cmd->add_flag("--backing-chain", args->backing_chain, "Also show every backing file");
    cmd->add_flag("-U,--force-share", args->force_share, "Accepted for compatibility; changes nothing");
    cmd->add_flag("--unsafe-quirks", args->unsafe_quirks, "Treat unrecognised bytes as raw, as qemu-img does");
    cmd->add_option("--backing-dir", args->backing_dirs,
                    "Directory backing files and vmdk extent files may be opened in (repeatable; default: the "
                    "image's directory)");
    add_sandbox_options(*cmd, args->sandbox);
    cmd->callback([args] { run_info(*args); });
}

}  // namespace instar::cli
