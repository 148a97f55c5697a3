#pragma once

#include <CLI/CLI.hpp>

namespace instar::cli {

// `instar copy [-p] INPUT OUTPUT`: INPUT's bytes into OUTPUT through the
// guest; the output is sparse where the input reads as zeroes.
void add_copy_command(CLI::App& app);

}  // namespace instar::cli
