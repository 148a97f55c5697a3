// From `instar create`'s command line to a resolved CreateRequest, in
// qemu-img 7.2's order of checks:
//
//   CreateArgs args = parse_create_args(argv);
//   if (args.help) -> print usage
//   if (auto text = create_help_text(args)) -> print *text, exit 0   (-o help)
//   CreatePlan plan = plan_create(args, probe, warnings);  // qemu-img's checks before "Formatting"
//   if (!args.quiet) print formatting_line(plan) + "\n";
//   print plan.driver_warnings;
//   ResolvedCreate r = resolve_create(plan);                // the format driver's checks
//
// Errors are instar::Error with qemu-img's text after "qemu-img: "; the CLI
// adds "instar: create: ". qemu-img prints its "Formatting" line before the
// format driver validates, so resolve_create()'s errors come after it, as
// they do with qemu-img.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "abi/ops/create.h"
#include "cli/create_args.h"
#include "host/error.h"
#include "host/raw_file.h"

namespace instar::cli {

// One -o key as qemu holds it: the text typed and, for numbers, sizes and
// booleans, the parsed value.
struct OptionValue {
    std::string name;
    std::string text;
    uint64_t number = 0;
    bool boolean = false;
};

// Where the backing file is opened and as what. qemu-img opens the backing
// file (unless -u) to check it and, without SIZE, to take its virtual size.
struct BackingQuery {
    std::string path;  // the backing name resolved against the new image's directory
    // Format::none: no -F was given; qemu-img opens the file all the
    // same (probing its format) and fails afterwards, so only whether it
    // opens matters.
    abi::Format format;
};

// Opens the backing file as `format` and returns its virtual size; throws
// instar::Error (e.g. "Could not open 'base.qcow2': No such file or
// directory") when it cannot. Only called when qemu-img would open it.
using BackingProbe = std::function<uint64_t(const BackingQuery&)>;

// A size the format cannot hold. qemu-img create words it its own way
// (bdrv_img_create replaces the driver's -EFBIG error); qemu-img convert
// calls the driver directly and shows the driver's words.
class ImageTooLarge : public Error {
public:
    ImageTooLarge(const std::string& create_words, std::string driver_words)
        : Error(create_words), driver_words_(std::move(driver_words)) {}
    const std::string& driver_words() const { return driver_words_; }

private:
    std::string driver_words_;
};

inline constexpr uint32_t kDefaultSectorSize = 65536;

struct CreatePlan {
    abi::Format format = abi::Format::raw;
    std::string format_name;
    std::string filename;
    std::vector<OptionValue> options;  // in the order set; the last of a name wins
    std::optional<BackingQuery> backing_opened;  // set when the probe was called

    // instar's extensions, validated.
    uint32_t sector_size = kDefaultSectorSize;
    std::optional<uint32_t> grain_size;      // vmdk --grain-size
    std::optional<uint32_t> vpc_block_size;  // vpc --block-size
    bool deterministic = false;
    bool quiet = false;
    OutputFormat output = OutputFormat::human;

    // Warnings qemu-img prints after its Formatting line, before the format
    // driver's checks (it parses its size keys a second time).
    std::vector<std::string> driver_warnings;
};

// Best-effort attributes for the new file: host/raw_file.h's HostFileHints.
using instar::HostFileHints;

struct ResolvedCreate {
    abi::CreateRequest request{};  // entropy and timestamp left zero for the caller
    uint32_t sector_size = kDefaultSectorSize;
    // request.flags has kCreateBackingAttached: the caller must attach the
    // backing file (at backing_path) as input device 0. vmdk reads its CID.
    bool attach_backing = false;
    std::string backing_path;
    HostFileHints file_hints;
};

// `-o help`: the text qemu-img prints, or nullopt when not asked for.
// Throws "Unknown file format 'X'" like qemu-img.
std::optional<std::string> create_help_text(const CreateArgs& args);

// qemu-img's checks up to its "Formatting" line. `warnings` receives
// qemu-img's warnings (without "qemu-img: warning: ") as they occur, even
// when an error is thrown afterwards.
CreatePlan plan_create(const CreateArgs& args, const BackingProbe& probe, std::vector<std::string>& warnings);

// The format driver's checks and the final request.
ResolvedCreate resolve_create(const CreatePlan& plan);

// The base name of `path` (after its last '/').
std::string image_base_name(const std::string& path);

// qemu's path_combine: a relative backing name is relative to the
// directory of the image that names it.
std::string backing_path_relative_to(const std::string& image, const std::string& backing);

}  // namespace instar::cli
