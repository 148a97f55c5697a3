#include "cli/create_args.h"

#include <cstring>

#include "cli/create_option_list.h"
#include "host/error.h"

namespace instar::cli {
namespace {

enum class Opt {
    format, option, backing, backing_format, backing_unsafe, quiet, help, object, output, sector_size,
    cluster_size, refcount_bits, extended_l2, lazy_refcounts, compat, subformat, grain_size, block_size,
    preallocation, deterministic,
};

struct LongOpt {
    const char* name;
    bool takes_arg;
    Opt id;
};

constexpr LongOpt kLongOpts[] = {
    {"format", true, Opt::format},
    {"option", true, Opt::option},
    {"backing", true, Opt::backing},
    {"backing-format", true, Opt::backing_format},
    {"backing-unsafe", false, Opt::backing_unsafe},
    {"quiet", false, Opt::quiet},
    {"help", false, Opt::help},
    {"object", true, Opt::object},
    {"output", true, Opt::output},
    {"sector-size", true, Opt::sector_size},
    {"cluster-size", true, Opt::cluster_size},
    {"refcount-bits", true, Opt::refcount_bits},
    {"extended-l2", false, Opt::extended_l2},
    {"lazy-refcounts", false, Opt::lazy_refcounts},
    {"compat", true, Opt::compat},
    {"subformat", true, Opt::subformat},
    {"grain-size", true, Opt::grain_size},
    {"block-size", true, Opt::block_size},
    {"preallocation", true, Opt::preallocation},
    {"deterministic", false, Opt::deterministic},
};

struct ShortOpt {
    char c;
    bool takes_arg;
    Opt id;
};

constexpr ShortOpt kShortOpts[] = {
    {'f', true, Opt::format},          {'o', true, Opt::option},        {'b', true, Opt::backing},
    {'F', true, Opt::backing_format},  {'u', false, Opt::backing_unsafe}, {'q', false, Opt::quiet},
    {'h', false, Opt::help},
};

[[noreturn]] void unrecognized(const std::string& arg) { throw Error("unrecognized option '" + arg + "'"); }
[[noreturn]] void missing(const std::string& arg) { throw Error("missing argument for option '" + arg + "'"); }

const LongOpt* find_long(const std::string& name, const std::string& arg) {
    const LongOpt* prefix_match = nullptr;
    bool ambiguous = false;
    for (const LongOpt& o : kLongOpts) {
        if (name == o.name) return &o;
        if (std::strncmp(o.name, name.c_str(), name.size()) == 0) {
            if (prefix_match) ambiguous = true;
            prefix_match = &o;
        }
    }
    if (ambiguous) throw Error("option '" + arg + "' is ambiguous");
    return prefix_match;
}

// Returns false when the option ends parsing (help).
bool apply(CreateArgs& a, Opt id, const std::string& value) {
    switch (id) {
    case Opt::format: a.format = value; break;
    case Opt::option:
        // qemu-img checks each -o list as it reads it.
        if (!is_valid_option_list(value)) throw Error("Invalid option list: " + value);
        a.options.push_back(value);
        break;
    case Opt::backing: a.backing_file = value; break;
    case Opt::backing_format: a.backing_format = value; break;
    case Opt::backing_unsafe: a.backing_unsafe = true; break;
    case Opt::quiet: a.quiet = true; break;
    case Opt::help: a.help = true; return false;
    case Opt::object:
        // qemu's --object defines secrets for encryption, which instar lacks.
        throw Error("--object is not supported by instar");
    case Opt::output:
        if (value == "human") {
            a.output = OutputFormat::human;
        } else if (value == "json") {
            a.output = OutputFormat::json;
        } else {
            throw Error("--output must be used with human or json as argument.");
        }
        break;
    case Opt::sector_size: a.sector_size = value; break;
    case Opt::cluster_size: a.cluster_size = value; break;
    case Opt::refcount_bits: a.refcount_bits = value; break;
    case Opt::extended_l2: a.extended_l2 = true; break;
    case Opt::lazy_refcounts: a.lazy_refcounts = true; break;
    case Opt::compat: a.compat = value; break;
    case Opt::subformat: a.subformat = value; break;
    case Opt::grain_size: a.grain_size = value; break;
    case Opt::block_size: a.block_size = value; break;
    case Opt::preallocation: a.preallocation = value; break;
    case Opt::deterministic: a.deterministic = true; break;
    }
    return true;
}

}  // namespace

CreateArgs parse_create_args(const std::vector<std::string>& args) {
    CreateArgs a;
    size_t i = 0;
    while (i < args.size()) {
        const std::string& arg = args[i++];
        if (arg == "--") {
            while (i < args.size()) a.operands.push_back(args[i++]);
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            a.operands.push_back(arg);
            continue;
        }
        if (arg[1] == '-') {
            size_t eq = arg.find('=');
            std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            const LongOpt* o = find_long(name, eq == std::string::npos ? arg : arg.substr(0, eq));
            if (!o) unrecognized(arg);
            std::string value;
            if (o->takes_arg) {
                if (eq != std::string::npos) {
                    value = arg.substr(eq + 1);
                } else if (i < args.size()) {
                    value = args[i++];
                } else {
                    missing(arg);
                }
            } else if (eq != std::string::npos) {
                unrecognized(arg);  // getopt refuses "--quiet=x"; qemu-img reports it so
            }
            if (!apply(a, o->id, value)) return a;
            continue;
        }
        for (size_t k = 1; k < arg.size(); ++k) {
            const ShortOpt* o = nullptr;
            for (const ShortOpt& s : kShortOpts) {
                if (s.c == arg[k]) o = &s;
            }
            if (!o) unrecognized(arg);
            if (!o->takes_arg) {
                if (!apply(a, o->id, "")) return a;
                continue;
            }
            std::string value;
            if (k + 1 < arg.size()) {
                value = arg.substr(k + 1);
            } else if (i < args.size()) {
                value = args[i++];
            } else {
                missing(arg);
            }
            if (!apply(a, o->id, value)) return a;
            break;
        }
    }
    return a;
}

}  // namespace instar::cli
