// `info` of an image and, with --backing-chain, of every backing file: which
// files are opened (the image given, then only what the allowlist allows),
// the guest runs that read them (each in a sandboxed child; a vmdk
// descriptor takes two, the second with its extent files attached), and
// the checks of every answer. The command line only parses its arguments,
// calls this and prints.
#pragma once

#include <string>
#include <vector>

#include "abi/format.h"
#include "host/guest_run.h"
#include "image/info_model.h"
#include "image/input_file.h"

namespace instar::image {

// qemu-img follows backing files without limit (it only detects loops);
// instar stops a chain that runs deeper than this.
inline constexpr size_t kMaxChainDepth = 16;

struct InfoQuery {
    std::string filename;                    // as given; also how qemu-img prints it
    abi::Format format = abi::Format::none;  // -f; none: detect
    bool backing_chain = false;
    bool unsafe_quirks = false;              // bytes of no format are raw, as qemu says
    std::vector<std::string> backing_dirs;   // the allowlist; empty: the image's directory
};

// The checked images, the one asked for first. Every guest run is made
// from `run` (deadline, verbosity, log and progress callbacks). Throws
// instar::Error with one line, in qemu-img's words where it has them.
//
// With `opened`, each image's file stays open there (the image asked for
// first), so a later run reads the very files this one checked.
std::vector<CheckedInfoImage> read_info_chain(const InfoQuery& query, const GuestRun& run,
                                              std::vector<InputFile>* opened = nullptr);

}  // namespace instar::image
