// qemu-img create's checks before its "Formatting" line (img_create and
// bdrv_img_create in qemu 7.2), plus instar's own flags.
#include <cstring>
#include <string_view>

#include "cli/create_option_list.h"
#include "cli/create_option_table.h"
#include "cli/create_options.h"
#include "cli/format_named.h"
#include "cli/size_parser.h"
#include "formats/common/bits.h"
#include "host/error.h"

namespace instar::cli {
namespace {
using formats::is_power_of_two;

using abi::Format;

[[noreturn]] void fail(const std::string& filename, const std::string& message) {
    throw Error(filename + ": " + message);
}

// qemu's per-type parse of one -o value (qemu_opt_parse).
OptionValue parse_option_value(const std::string& filename, const OptionDesc& desc, const std::string& text,
                               std::vector<std::string>& warnings) {
    OptionValue v{desc.name, text, 0, false};
    const std::string name = desc.name;
    switch (desc.type) {
    case OptionType::string: break;
    case OptionType::boolean:
        if (text == "on" || text == "yes" || text == "true" || text == "y") {
            v.boolean = true;
        } else if (text == "off" || text == "no" || text == "false" || text == "n") {
            v.boolean = false;
        } else {
            fail(filename, "Parameter '" + name + "' expects 'on' or 'off'");
        }
        break;
    case OptionType::number: {
        SizeParse p = parse_qemu_number(text);
        if (p.status == SizeParseStatus::out_of_range) {
            fail(filename, "Value '" + text + "' is too large for parameter '" + name + "'");
        }
        if (p.status != SizeParseStatus::ok) fail(filename, "Parameter '" + name + "' expects a number");
        v.number = p.value;
        break;
    }
    case OptionType::size: {
        SizeParse p = parse_qemu_size(text);
        if (p.hex_with_suffix) warnings.push_back(hex_suffix_warning(text));
        if (p.status == SizeParseStatus::out_of_range) {
            fail(filename, "Value '" + text + "' is out of range for parameter '" + name + "'");
        }
        if (p.status != SizeParseStatus::ok) {
            // qemu adds a two-line hint about suffixes; instar errors are one line.
            fail(filename, "Parameter '" + name + "' expects a non-negative number below 2^64");
        }
        v.number = p.value;
        break;
    }
    }
    return v;
}

const OptionValue* last_option(const std::vector<OptionValue>& options, std::string_view name) {
    for (auto it = options.rbegin(); it != options.rend(); ++it) {
        if (it->name == name) return &*it;
    }
    return nullptr;
}

// instar-only sizes: qemu's size syntax, a power of two within [lo, hi].
uint32_t parse_pow2_flag(const std::string& text, uint64_t lo, uint64_t hi, const std::string& message) {
    SizeParse p = parse_qemu_size(text);
    if (p.status != SizeParseStatus::ok || !is_power_of_two(p.value) || p.value < lo || p.value > hi) {
        throw Error(message);
    }
    return static_cast<uint32_t>(p.value);
}

struct FlagKey {
    const char* flag;
    const char* key;
};

[[noreturn]] void flag_not_applicable(const char* flag, const std::string& format) {
    throw Error(std::string("option '") + flag + "' does not apply to file format '" + format + "'");
}

// The individual flags, as the -o keys they stand for (before every -o
// argument, so that -o wins), and instar's own settings.
std::vector<std::pair<std::string, std::string>> flag_options(const CreateArgs& args, CreatePlan& plan,
                                                              const std::string& format_name) {
    std::vector<std::pair<std::string, std::string>> keys;
    auto add = [&](const char* flag, const char* key, const std::optional<std::string>& value) {
        if (!value) return;
        if (!find_option_desc(plan.format, key)) flag_not_applicable(flag, format_name);
        keys.emplace_back(key, *value);
    };
    add("--cluster-size", "cluster_size", args.cluster_size);
    add("--refcount-bits", "refcount_bits", args.refcount_bits);
    add("--extended-l2", "extended_l2", args.extended_l2 ? std::optional<std::string>("on") : std::nullopt);
    add("--lazy-refcounts", "lazy_refcounts", args.lazy_refcounts ? std::optional<std::string>("on") : std::nullopt);
    add("--compat", "compat", args.compat);
    add("--subformat", "subformat", args.subformat);
    add("--preallocation", "preallocation", args.preallocation);

    if (args.block_size) {
        if (plan.format == Format::vhdx) {
            uint32_t bs = parse_pow2_flag(*args.block_size, uint64_t{1} << 20, uint64_t{256} << 20,
                                          "--block-size must be a power of two between 1M and 256M for vhdx");
            keys.emplace_back("block_size", std::to_string(bs));
        } else if (plan.format == Format::vpc) {
            plan.vpc_block_size = parse_pow2_flag(*args.block_size, uint64_t{512} << 10, uint64_t{256} << 20,
                                                  "--block-size must be a power of two between 512K and 256M for vpc");
        } else {
            flag_not_applicable("--block-size", format_name);
        }
    }
    if (args.grain_size) {
        if (plan.format != Format::vmdk) flag_not_applicable("--grain-size", format_name);
        plan.grain_size = parse_pow2_flag(*args.grain_size, uint64_t{4} << 10, uint64_t{64} << 10,
                                          "--grain-size must be a power of two between 4K and 64K");
    }
    if (args.sector_size) {
        plan.sector_size = parse_pow2_flag(*args.sector_size, 512, 65536,
                                           "--sector-size must be a power of two between 512 and 65536");
    }
    return keys;
}

void add_option(CreatePlan& plan, const std::string& name, const std::string& text,
                std::vector<std::string>& warnings) {
    const OptionDesc* desc = find_option_desc(plan.format, name);
    if (!desc) fail(plan.filename, "Invalid parameter '" + name + "'");
    plan.options.push_back(parse_option_value(plan.filename, *desc, text, warnings));
}

// What qemu-img would do but instar cannot yet: refused before anything
// is printed, never ignored.
void refuse_unsupported(const CreatePlan& plan) {
    for (const OptionValue& o : plan.options) {
        if (o.name == "encryption" || o.name.rfind("encrypt.", 0) == 0) {
            fail(plan.filename, "Parameter '" + o.name + "' is not supported by instar (encrypted images)");
        }
        if (o.name == "data_file" || o.name == "data_file_raw") {
            fail(plan.filename, "Parameter '" + o.name + "' is not supported by instar (external data files)");
        }
    }
    if (plan.format == Format::vmdk) {
        if (const OptionValue* sub = last_option(plan.options, "subformat")) {
            if (sub->text == "monolithicFlat" || sub->text == "twoGbMaxExtentSparse" ||
                sub->text == "twoGbMaxExtentFlat") {
                fail(plan.filename, "vmdk subformat '" + sub->text + "' is not supported by instar yet");
            }
        }
    }
    if (plan.format == Format::qcow2) {
        const OptionValue* fmt = last_option(plan.options, "backing_fmt");
        if (fmt && !format_named(fmt->text) && is_qemu_block_driver_name(fmt->text)) {
            fail(plan.filename, "Backing file format '" + fmt->text + "' is not supported by instar");
        }
    }
}

}  // namespace

std::string image_base_name(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string backing_path_relative_to(const std::string& image, const std::string& backing) {
    if (!backing.empty() && backing[0] == '/') return backing;
    size_t slash = image.rfind('/');
    return slash == std::string::npos ? backing : image.substr(0, slash + 1) + backing;
}

std::optional<std::string> create_help_text(const CreateArgs& args) {
    if (args.options.empty() || !option_list_wants_help(join_option_lists(args.options))) return std::nullopt;
    std::optional<Format> format = format_named(args.format);
    if (!format) {
        if (is_qemu_format_name(args.format)) {
            throw Error("File format '" + args.format + "' is not supported by instar");
        }
        throw Error("Unknown file format '" + args.format + "'");
    }
    return create_option_help(*format, !args.operands.empty());
}

CreatePlan plan_create(const CreateArgs& args, const BackingProbe& probe, std::vector<std::string>& warnings) {
    CreatePlan plan;
    if (args.operands.empty()) throw Error("Expecting image file name");
    plan.filename = args.operands[0];
    std::optional<uint64_t> size_arg;
    if (args.operands.size() >= 2) size_arg = parse_image_size_argument(args.operands[1], warnings);
    if (args.operands.size() > 2) throw Error("Unexpected argument: " + args.operands[2]);

    std::optional<Format> format = format_named(args.format);
    if (!format) {
        if (is_qemu_format_name(args.format)) {
            fail(plan.filename, "File format '" + args.format + "' is not supported by instar");
        }
        fail(plan.filename, "Unknown file format '" + args.format + "'");
    }
    plan.format = *format;
    plan.format_name = args.format;
    plan.deterministic = args.deterministic;
    plan.quiet = args.quiet;
    plan.output = args.output;

    for (const auto& [key, value] : flag_options(args, plan, args.format)) add_option(plan, key, value, warnings);
    if (!args.options.empty()) {
        for (const RawOption& o : split_option_list(join_option_lists(args.options))) {
            if (o.name == "id") continue;  // qemu's QemuOpts drop "id" silently
            add_option(plan, o.name, o.value, warnings);
        }
    }

    bool size_known = last_option(plan.options, "size") != nullptr;
    if (size_known && size_arg) fail(plan.filename, "The image size must be specified only once");
    if (size_arg) {
        plan.options.push_back({"size", std::to_string(*size_arg), *size_arg, false});
        size_known = true;
    }

    if (args.backing_file) {
        if (!find_option_desc(plan.format, "backing_file")) {
            fail(plan.filename, "Backing file not supported for file format '" + args.format + "'");
        }
        plan.options.push_back({"backing_file", *args.backing_file, 0, false});
    }
    if (args.backing_format) {
        if (!find_option_desc(plan.format, "backing_fmt")) {
            fail(plan.filename, "Backing file format not supported for file format '" + args.format + "'");
        }
        plan.options.push_back({"backing_fmt", *args.backing_format, 0, false});
    }

    const OptionValue* backing = last_option(plan.options, "backing_file");
    if (backing) {
        if (backing->text == plan.filename) {
            fail(plan.filename, "Error: Trying to create an image with the same filename as the backing file");
        }
        if (backing->text.empty()) fail(plan.filename, "Expected backing file name, got empty string");
    }
    const OptionValue* backing_fmt = last_option(plan.options, "backing_fmt");
    if (backing && !args.backing_unsafe) {
        // Without -F, qemu-img still opens the backing file (probing its
        // format, to name it in a hint) before refusing.
        std::optional<abi::Format> bf = abi::Format::none;
        if (backing_fmt) bf = format_named(backing_fmt->text);
        if (!bf) {
            if (is_qemu_block_driver_name(backing_fmt->text)) {
                fail(plan.filename, "Backing file format '" + backing_fmt->text + "' is not supported by instar");
            }
            fail(plan.filename, "Unknown driver '" + backing_fmt->text + "'");
        }
        BackingQuery query{backing_path_relative_to(plan.filename, backing->text), *bf};
        if (!probe) throw Error("internal error: the backing file must be opened but no probe was given");
        uint64_t backing_size = 0;
        try {
            backing_size = probe(query);
        } catch (const Error& e) {
            fail(plan.filename, e.what());
        }
        if (!backing_fmt) fail(plan.filename, "Backing file specified without backing format");
        plan.backing_opened = query;
        if (!size_known) {
            plan.options.push_back({"size", std::to_string(backing_size), backing_size, false});
            size_known = true;
        }
    } else if (backing && !backing_fmt) {
        fail(plan.filename, "Backing file specified without backing format");
    }
    if (!size_known) fail(plan.filename, "Image creation needs a size parameter");

    refuse_unsupported(plan);

    // The format driver parses its size keys a second time (vmdk takes
    // "size" out first), repeating qemu's hex-suffix warning.
    for (const OptionDesc& d : create_option_descs(plan.format)) {
        if (d.type != OptionType::size) continue;
        if (plan.format == Format::vmdk && std::strcmp(d.name, "size") == 0) continue;
        const OptionValue* v = last_option(plan.options, d.name);
        if (v && parse_qemu_size(v->text).hex_with_suffix) plan.driver_warnings.push_back(hex_suffix_warning(v->text));
    }
    return plan;
}

}  // namespace instar::cli
