#pragma once

#include <CLI/CLI.hpp>

namespace instar::cli {

// `instar info [-f FMT] [--output human|json] [--backing-chain] [-U]
// [--unsafe-quirks] [--backing-dir DIR]... FILENAME`, as `qemu-img info`.
void add_info_command(CLI::App& app);

}  // namespace instar::cli
