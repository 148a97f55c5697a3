// `instar convert`: qemu-img convert's command line (glibc's getopt_long
// with qemu-img's option string, so options and operands mix as they do
// there), its checks and wording, then the image session does the work.
#include "cli/convert.h"

#include <getopt.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "abi/format.h"
#include "cli/common.h"
#include "cli/create_identity.h"
#include "cli/create_option_list.h"
#include "cli/create_options.h"
#include "cli/progress.h"
#include "cli/size_parser.h"
#include "host/error.h"
#include "host/interrupt.h"
#include "image/convert_session.h"

namespace instar::cli {
namespace {

constexpr const char* kUsage =
    "usage: instar convert [-U] [-C] [-c] [-p] [-q] [-n] [-f fmt] [-t cache] [-T src_cache] [-O output_fmt]\n"
    "       [-B backing_file [-F backing_fmt]] [-o options] [-l snapshot_param] [-S sparse_size]\n"
    "       [-r rate_limit] [-m num_coroutines] [-W] [--target-is-zero] [--salvage]\n"
    "       filename [filename2 [...]] output_filename\n"
    "  (instar: -O raw, qcow2, vmdk (one file), vpc, vhdx; every source format instar reads)\n";

// qemu's -S limit: a sparse buffer of at most 16 MiB, in whole sectors.
constexpr uint64_t kMaxSparseBytes = 16ull << 20;
constexpr long kMaxCoroutines = 16;
// cvtnum's advice, which qemu-img prints over two lines.
constexpr const char* kSuffixHint =
    "You may use k, M, G, T, P or E suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and "
    "exabytes.";

enum LongOnly { kObject = 256, kImageOpts, kTargetImageOpts, kSalvage, kTargetIsZero, kBitmaps, kSkipBrokenBitmaps };

struct ConvertArgs {
    image::ConvertQuery query;
    std::optional<std::string> output_format_name;
    std::optional<std::string> source_format_name;
    std::vector<std::string> options;  // -o
    bool progress = false, quiet = false, compress = false, help = false;
    std::optional<std::string> backing;
    std::string cache = "unsafe";  // -t: qemu-img convert's default for the target
};

// -l: "snapshot.id=ID,snapshot.name=NAME" in qemu's option syntax, or a
// snapshot's id or name.
image::ConvertQuery::Snapshot snapshot_choice(const std::string& arg) {
    image::ConvertQuery::Snapshot s;
    if (arg.rfind("snapshot.", 0) != 0) {
        s.id = arg;
        s.id_or_name = true;
        return s;
    }
    // qemu_opts_parse_noisily: the last of a key wins; "id" is the
    // option group's own id, which qemu takes and ignores here.
    for (const RawOption& o : split_option_list(arg)) {
        if (o.flag_form)
            std::cerr << "instar: convert: warning: short-form boolean option '" << o.name << "' deprecated\n";
        if (o.name == "snapshot.id") s.id = o.value;
        else if (o.name == "snapshot.name") s.name = o.value;
        else if (o.name != "id") throw Error("Invalid parameter '" + o.name + "'");
    }
    return s;
}

bool valid_cache_mode(const std::string& m) {
    for (const char* known : {"none", "writeback", "writethrough", "directsync", "unsafe", "off"})
        if (m == known) return true;
    return false;
}

ConvertArgs parse(std::vector<std::string> raw) {
    ConvertArgs a;
    std::vector<std::string> store;
    store.push_back("convert");
    store.insert(store.end(), raw.begin(), raw.end());
    std::vector<char*> argv;
    for (std::string& s : store) argv.push_back(s.data());
    argv.push_back(nullptr);
    static const option kLong[] = {
        {"help", no_argument, nullptr, 'h'},
        {"object", required_argument, nullptr, kObject},
        {"image-opts", no_argument, nullptr, kImageOpts},
        {"force-share", no_argument, nullptr, 'U'},
        {"target-image-opts", no_argument, nullptr, kTargetImageOpts},
        {"salvage", no_argument, nullptr, kSalvage},
        {"target-is-zero", no_argument, nullptr, kTargetIsZero},
        {"bitmaps", no_argument, nullptr, kBitmaps},
        {"skip-broken-bitmaps", no_argument, nullptr, kSkipBrokenBitmaps},
        {nullptr, 0, nullptr, 0},
    };
    optind = 0;  // glibc: a full re-initialisation
    opterr = 0;
    const int argc = int(store.size());
    for (;;) {
        int c = getopt_long(argc, argv.data(), ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", kLong, nullptr);
        if (c == -1) break;
        std::string arg = optarg ? optarg : "";
        switch (c) {
        case ':': throw Error("missing argument for option '" + std::string(argv[optind - 1]) + "'");
        case '?': throw Error("unrecognized option '" + std::string(argv[optind - 1]) + "'");
        case 'h': a.help = true; break;
        case 'f': a.source_format_name = arg; break;
        case 'O': a.output_format_name = arg; break;
        case 'B': a.backing = arg; break;
        case 'F': break;  // only with -B, refused below
        case 'C': throw Error("-C (copy offloading) is not supported by instar yet");
        case 'c': a.compress = true; break;
        case 'o': a.options.push_back(arg); break;
        case 'l': a.query.snapshot = snapshot_choice(arg); break;
        case 'S': {
            SizeParse v = parse_qemu_size(arg);
            if (v.status != SizeParseStatus::ok || v.value > uint64_t(INT64_MAX))
                throw Error("Invalid buffer size for sparse output specified. " + std::string(kSuffixHint));
            if (v.value % 512 || v.value > kMaxSparseBytes)
                throw Error("Invalid buffer size for sparse output specified. Valid sizes are multiples of 512 up "
                            "to 16777216. Select 0 to disable sparse detection (fully allocates output).");
            a.query.min_sparse_bytes = v.value;
            break;
        }
        case 'p': a.progress = true; break;
        case 't':
            if (!valid_cache_mode(arg)) throw Error("Invalid cache option: " + arg);
            a.cache = arg;
            break;
        case 'T':
            if (!valid_cache_mode(arg)) throw Error("Invalid source cache option: " + arg);
            break;
        case 'q': a.quiet = true; break;
        case 'n': a.query.existing_target = true; break;
        case 'm': {
            char* end = nullptr;
            long n = std::strtol(arg.c_str(), &end, 10);
            if (arg.empty() || *end || n < 1 || n > kMaxCoroutines)
                throw Error("Invalid number of coroutines. Allowed number of coroutines is between 1 and 16");
            break;
        }
        case 'W': break;  // writes are always in order here
        case 'U': break;  // instar takes no locks: reading a file in use is always allowed
        case 'r': {
            SizeParse v = parse_qemu_size(arg);
            if (v.status != SizeParseStatus::ok || v.value > uint64_t(INT64_MAX))
                throw Error("Invalid rate limit specified. " + std::string(kSuffixHint));
            a.query.rate_limit = v.value;
            break;
        }
        case kObject: throw Error("--object is not supported by instar (no secrets yet)");
        case kImageOpts: throw Error("--image-opts is not supported by instar");
        case kTargetImageOpts: throw Error("--target-image-opts is not supported by instar");
        case kSalvage: throw Error("--salvage is not supported by instar yet");
        case kTargetIsZero: a.query.target_is_zero = true; break;
        case kBitmaps:
        case kSkipBrokenBitmaps: throw Error("--bitmaps is not supported by instar yet");
        }
    }
    for (int i = optind; i < argc; ++i) a.query.sources.push_back(argv[i]);
    return a;
}

// qemu-img convert creates its output as `qemu-img create -O fmt -o ...`
// would at the sources' total size: the same checks, the same image.
std::function<image::ConvertQuery::OutputImage(uint64_t)> output_image(const ConvertArgs& a,
                                                                      const std::string& format) {
    return [a, format](uint64_t size) {
        const std::string& output = a.query.output;
        // `create`'s errors name the image first; qemu-img convert words
        // them its own way.
        auto without_name = [&output](const Error& e) {
            std::string m = e.what();
            return m.rfind(output + ": ", 0) == 0 ? m.substr(output.size() + 2) : m;
        };
        CreateArgs args;
        args.format = format;
        args.options = a.options;
        // qemu sets the size after the -o options: it wins over theirs.
        args.options.push_back("size=" + std::to_string(size));
        args.operands = {output};
        std::vector<std::string> warnings;
        const BackingProbe no_backing = [](const BackingQuery&) -> uint64_t {
            throw Error("a backing file for the output is not supported by instar convert yet");
        };
        CreatePlan plan;
        try {
            plan = plan_create(args, no_backing, warnings);
        } catch (const Error& e) {
            throw Error(without_name(e));
        }
        for (const std::string& w : warnings) std::cerr << "instar: convert: warning: " << w << "\n";
        if (a.compress) {
            // qemu-img looks at the text of the last preallocation key.
            const OptionValue* prealloc = nullptr;
            for (const OptionValue& o : plan.options)
                if (o.name == "preallocation") prealloc = &o;
            if (prealloc && prealloc->text != "off")
                throw Error("Compression and preallocation not supported at the same time");
        }
        for (const std::string& w : plan.driver_warnings) std::cerr << "instar: convert: warning: " << w << "\n";
        ResolvedCreate r;
        try {
            r = resolve_create(plan);
        } catch (const ImageTooLarge& e) {
            throw Error(output + ": error while converting " + format + ": " + e.driver_words());
        } catch (const Error& e) {
            throw Error(output + ": error while converting " + format + ": " + without_name(e));
        }
        if (r.request.flags & abi::kCreateHasBacking)
            throw Error("a backing file for the output is not supported by instar convert yet");
        // The other subformats are several files: a descriptor and its extents.
        if (r.request.format == uint32_t(abi::Format::vmdk) &&
            r.request.vmdk_subformat != uint32_t(abi::VmdkSubformat::monolithic_sparse) &&
            r.request.vmdk_subformat != uint32_t(abi::VmdkSubformat::stream_optimized))
            throw Error("a vmdk made of several files is not supported by instar convert yet");
        if (r.request.preallocation != uint32_t(abi::Preallocation::off) && (r.request.flags & abi::kCreateExtendedL2))
            throw Error("preallocation with extended_l2 is not supported by instar convert yet");
        fill_identity(r.request, false);
        return image::ConvertQuery::OutputImage{r.request, r.file_hints};
    };
}

void run_convert(std::vector<std::string> raw) {
    SandboxOptions sandbox = take_sandbox_options(raw);
    ConvertArgs a = parse(std::move(raw));
    if (a.help) {
        std::cout << kUsage;
        return;
    }
    if (a.quiet) a.progress = false;
    const std::string out_fmt = a.output_format_name.value_or("raw");
    abi::Format out = abi::format_from_name(out_fmt.data(), out_fmt.size());
    if (out == abi::Format::none) throw Error("Unknown file format '" + out_fmt + "'");
    a.query.output_format = out;
    // qemu-img's order: these checks, then -o help, then the operands.
    if (a.query.existing_target && !a.options.empty()) throw Error("-o has no effect when skipping image creation");
    if (a.query.target_is_zero && !a.query.existing_target) throw Error("--target-is-zero requires use of -n flag");
    if (!a.options.empty()) {
        CreateArgs args;
        args.format = out_fmt;
        args.options = a.options;
        // With an output file name qemu lists the file protocol's options too.
        if (a.query.sources.size() >= 2) args.operands = {a.query.sources.back()};
        if (auto text = create_help_text(args)) {
            std::cout << *text;
            return;
        }
    }
    if (a.query.sources.size() < 2) throw Error("Must specify image file name");
    a.query.output = a.query.sources.back();
    a.query.sources.pop_back();
    if (a.source_format_name) {
        const std::string& f = *a.source_format_name;
        a.query.source_format = abi::format_from_name(f.data(), f.size());
        if (a.query.source_format == abi::Format::none)
            throw Error("Could not open '" + a.query.sources.front() + "': Unknown driver '" + f + "'");
    }
    if (a.compress && !image::convert_compresses(out)) throw Error("Compression not supported for this file format");
    if (a.backing && out == abi::Format::raw) throw Error("Backing file not supported for file format 'raw'");
    if (out == abi::Format::raw && !a.options.empty()) a.query.output_image = output_image(a, out_fmt);
    if (out != abi::Format::raw) {
        if (!image::convert_writes(out)) throw Error("-O " + out_fmt + " is not supported by instar convert yet");
        if (a.query.existing_target)
            throw Error("-n with a " + out_fmt + " output is not supported by instar convert yet");
        a.query.compress = a.compress;
        if (a.backing) throw Error("-B is not supported by instar convert yet");
        a.query.output_image = output_image(a, out_fmt);
    }

    InterruptHandling interrupts("convert");
    GuestRun run = make_guest_run(sandbox, abi::OpId::convert, "convert");
    // A conversion lasts as long as its data: without --timeout, it ends
    // only when 60 s pass with no block request completed.
    if (!sandbox.timeout_given) run.time_limit = TimeLimit::idle;
    QemuProgress progress(a.progress);
    // `info` of each layer reports no progress; the conversion does.
    run.on_progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };
    a.query.flush = a.cache != "unsafe";
    a.query.direct = a.cache == "none" || a.cache == "directsync";
    image::convert_images(a.query, run);
    progress.finish();
}

}  // namespace

void add_convert_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("convert", "Convert images (as qemu-img convert)");
    cmd->prefix_command();
    cmd->set_help_flag();
    cmd->callback([cmd] { run_convert(cmd->remaining()); });
}

}  // namespace instar::cli
