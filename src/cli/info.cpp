#include "cli/info.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <utility>

#include "abi/ops/info.h"
#include "cli/common.h"
#include "cli/info_render.h"
#include "cli/info_validate.h"
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

std::optional<abi::BackingFormat> format_named(const std::string& name) {
    static const std::pair<const char*, abi::BackingFormat> kNames[] = {
        {"raw", abi::BackingFormat::raw},   {"qcow2", abi::BackingFormat::qcow2}, {"vmdk", abi::BackingFormat::vmdk},
        {"vpc", abi::BackingFormat::vpc},   {"vhdx", abi::BackingFormat::vhdx}};
    for (const auto& [n, f] : kNames)
        if (name == n) return f;
    return std::nullopt;
}

// What qemu-img says when the bytes are not in the format asked for.
std::string mismatch_text(abi::BackingFormat f, const std::string& name) {
    switch (f) {
    case abi::BackingFormat::qcow2: return "Image is not in qcow2 format";
    case abi::BackingFormat::vmdk: return "invalid VMDK image descriptor";
    case abi::BackingFormat::vpc: return "invalid VPC image";
    case abi::BackingFormat::vhdx: return "Could not open '" + info_error_name(name) + "': Invalid argument";
    default: return "Image is not in the requested format";
    }
}

std::string guest_failure_text(const GuestFailed& e, abi::BackingFormat requested, const std::string& name) {
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

// One image of the chain: run the `info` guest on an open file and fill
// in what it reports, checked.
void inspect(int fd, uint64_t size, abi::BackingFormat requested, const InfoArgs& args, bool in_child,
             InfoImage& image) {
    GuestRun run = make_guest_run(args.sandbox, abi::OpId::info, "info");
    run.inputs.push_back(Disk{fd, size, size, 512});
    abi::InfoRequest req{uint32_t(requested), args.unsafe_quirks ? abi::kInfoUnsafeQuirks : 0u};
    run.op_config.assign(reinterpret_cast<uint8_t*>(&req), reinterpret_cast<uint8_t*>(&req) + sizeof req);
    run.record_kinds = {
        {uint32_t(abi::InfoRecord::snapshot), sizeof(abi::InfoSnapshot), abi::kInfoMaxSnapshots},
        {uint32_t(abi::InfoRecord::bitmap), sizeof(abi::InfoBitmap), abi::kInfoMaxBitmaps},
    };
    GuestOutput output;
    try {
        output = in_child ? run_guest_in_child(run) : run_guest(run);
    } catch (const GuestFailed& e) {
        throw Error("Could not open '" + info_error_name(image.filename) + "': " +
                    guest_failure_text(e, requested, image.filename));
    }
    image.info = output.result_as<abi::InfoResult>("info");
    image.snapshots = records_as<abi::InfoSnapshot>(output.records[0]);
    validate_info_result(image.info);
    validate_info_snapshots(image.info, image.snapshots);
    for (const RecordList& list : output.records)
        if (list.kind == uint32_t(abi::InfoRecord::bitmap)) image.bitmaps = records_as<abi::InfoBitmap>(list);
    validate_info_bitmaps(image.info, image.bitmaps);
    image.encryption = qcow2_encryption_of(image.info);
    if (requested != abi::BackingFormat::none && image.info.format != uint32_t(requested))
        throw Error("guest misbehaved: info result contradicts the requested format");
}

void run_info(const InfoArgs& args) {
    abi::BackingFormat requested = abi::BackingFormat::none;
    if (!args.format.empty()) {
        auto f = format_named(args.format);
        if (!f) throw Error("Could not open '" + args.filename + "': Unknown driver '" + args.format + "'");
        requested = *f;
    }
    if (args.output != "human" && args.output != "json")
        throw Error("--output must be human or json");

    // Snapshot dates are rendered in local time; the zone must be loaded
    // while files can still be opened.
    prepare_info_render();

    InputFile top;
    try {
        top = open_input(args.filename);
    } catch (const Error&) {
        int e = errno ? errno : ENOENT;
        throw Error("Could not open '" + args.filename + "': Could not open '" + args.filename +
                    "': " + std::strerror(e));
    }

    std::vector<InfoImage> chain;
    std::set<std::pair<dev_t, ino_t>> seen;
    std::unique_ptr<ConfinedOpener> opener;
    if (args.backing_chain) {
        std::vector<std::string> roots = args.backing_dirs;
        if (roots.empty()) roots.push_back(real_directory_of(args.filename));
        opener = std::make_unique<ConfinedOpener>(roots);
    }

    std::string name = args.filename;      // as qemu-img prints it
    std::string real_dir = args.backing_chain ? real_directory_of(args.filename) : "";
    int fd = top.fd;
    for (;;) {
        struct stat st;
        if (fstat(fd, &st) < 0) throw_errno("Could not open '" + info_error_name(name) + "'", errno);
        if (!seen.insert({st.st_dev, st.st_ino}).second)
            throw Error("Backing file '" + info_error_name(name) + "' creates an infinite loop");
        if (chain.size() == kMaxChainDepth)
            throw Error("backing chain of '" + args.filename + "' is deeper than " + std::to_string(kMaxChainDepth) +
                        " images");
        uint64_t size = S_ISBLK(st.st_mode) ? top.size : uint64_t(st.st_size);
        InfoImage image;
        image.filename = name;
        image.actual_size = uint64_t(st.st_blocks) * 512;
        inspect(fd, size, requested, args, args.backing_chain, image);
        close(fd);
        chain.push_back(image);
        std::optional<std::string> backing = info_backing_file(chain.back().info);
        if (!args.backing_chain || !backing) break;

        // Follow the backing file: only beneath the allowed directories.
        std::optional<std::string> next_name = info_full_backing_filename(chain.back());
        if (!next_name) throw Error("Could not open backing file of '" + info_error_name(name) + "'");
        std::string candidate = (*backing)[0] == '/' ? *backing : real_dir + "/" + *backing;
        fd = opener->open_read_only(candidate, info_error_name(*backing));
        name = *next_name;
        real_dir = real_directory_of(candidate);
        requested = abi::BackingFormat::none;
        if (chain.back().info.flags & abi::kInfoHasBackingFormat) {
            std::string fmt = info_string(chain.back().info.backing_format);
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
                    "Directory backing files may be opened in (repeatable; default: the image's directory)");
    add_sandbox_options(*cmd, args->sandbox);
    cmd->callback([args] { run_info(*args); });
}

}  // namespace instar::cli
