#pragma once

#include <CLI/CLI.hpp>

namespace instar::cli {

// `instar create [OPTIONS] FILENAME [SIZE]`, as `qemu-img create`. The
// command line is parsed by create_args.cpp (qemu-img's own rules), so
// CLI11 hands everything after "create" over untouched.
void add_create_command(CLI::App& app);

}  // namespace instar::cli
