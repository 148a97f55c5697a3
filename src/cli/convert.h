#pragma once

#include <CLI/CLI.hpp>

namespace instar::cli {
void add_convert_command(CLI::App& app);
}
