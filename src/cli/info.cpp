#include "cli/info.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "abi/ops/info.h"
#include "cli/common.h"
#include "cli/format_named.h"
#include "cli/info_render.h"
#include "host/error.h"
#include "image/info_session.h"

namespace instar::cli {
namespace {

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

    image::InfoQuery query;
    query.filename = args.filename;
    query.format = requested;
    query.backing_chain = args.backing_chain;
    query.unsafe_quirks = args.unsafe_quirks;
    query.backing_dirs = args.backing_dirs;
    const std::vector<image::CheckedInfoImage> chain =
        image::read_info_chain(query, make_guest_run(args.sandbox, abi::OpId::info, "info"));

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
