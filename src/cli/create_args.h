// `instar create` command line -> CreateArgs, with GNU getopt_long's rules
// (options and operands in any order, "--" ends options, clustered short
// options, unique prefixes of long options) and qemu-img's error wording.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace instar::cli {

enum class OutputFormat { human, json };

// The command line as typed. Values stay text; plan_create() interprets
// them, because which error wins depends on qemu-img's order of checks.
struct CreateArgs {
    std::string format = "raw";
    std::vector<std::string> options;  // each -o argument, in order
    std::optional<std::string> backing_file;    // -b
    std::optional<std::string> backing_format;  // -F
    bool backing_unsafe = false;                // -u
    bool quiet = false;                         // -q
    OutputFormat output = OutputFormat::human;
    bool help = false;  // -h / --help: print usage and stop

    // instar's individual flags. Those that qemu-img expresses with -o are
    // turned into -o keys placed before every -o argument, so -o wins.
    std::optional<std::string> sector_size;
    std::optional<std::string> cluster_size;
    std::optional<std::string> refcount_bits;
    std::optional<std::string> compat;
    std::optional<std::string> subformat;
    std::optional<std::string> grain_size;
    std::optional<std::string> block_size;
    std::optional<std::string> preallocation;
    bool extended_l2 = false;
    bool lazy_refcounts = false;
    bool deterministic = false;

    std::vector<std::string> operands;  // FILENAME [SIZE], and anything extra
};

// `args` excludes "instar" and "create". Throws instar::Error on an
// unknown option, a missing argument, an invalid -o list or a bad --output.
CreateArgs parse_create_args(const std::vector<std::string>& args);

}  // namespace instar::cli
