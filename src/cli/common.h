// What every sandboxed subcommand shares: the options that steer the
// guest (--timeout, -v); input files are image::InputFile.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "host/guest_run.h"
#include "image/input_file.h"

namespace instar::cli {

struct SandboxOptions {
    double timeout_seconds = 60;
    bool timeout_given = false;  // --timeout was on the command line (take_sandbox_options)
    bool verbose = false;
};

// --timeout's range, in seconds.
inline constexpr double kMinTimeoutSeconds = 0.001;
inline constexpr double kMaxTimeoutSeconds = 86400;

void add_sandbox_options(CLI::App& command, SandboxOptions& options);

// For a subcommand that parses its own arguments (create, as qemu-img
// does): takes --timeout SECONDS (or --timeout=SECONDS) and -v/--verbose
// out of `args`, up to a "--". Throws Error for a timeout out of range.
SandboxOptions take_sandbox_options(std::vector<std::string>& args);

// A GuestRun with the deadline and log printing set from the options.
GuestRun make_guest_run(const SandboxOptions& options, abi::OpId op, const std::string& op_name);

using image::InputFile;
using image::open_input;

}  // namespace instar::cli
