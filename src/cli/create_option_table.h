// The -o keys qemu-img 7.2 accepts for `create`, per format: the format
// driver's keys followed by the file protocol's, in qemu's declaration
// order. That order is the order of the "Formatting" line; help lists them
// sorted.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abi/ops/create.h"

namespace instar::cli {

enum class OptionType { string, boolean, number, size };

struct OptionDesc {
    const char* name;
    OptionType type;
    const char* help;
    const char* default_text;  // printed on the Formatting line when unset; may be null
    bool protocol = false;     // a key of the file protocol, not of the format
};

// Keys of `format` (format keys, then protocol keys not already present).
const std::vector<OptionDesc>& create_option_descs(abi::Format format);

// nullptr when `format` has no key `name`.
const OptionDesc* find_option_desc(abi::Format format, std::string_view name);

// The five formats instar creates, by qemu name.

// Formats qemu-img 7.2 knows ("Supported formats:" of qemu-img --help).
bool is_qemu_format_name(std::string_view name);

// Values of QAPI's BlockdevDriver in qemu 7.2: what qcow2 accepts as
// backing_fmt.
bool is_qemu_block_driver_name(std::string_view name);

// Exactly what `qemu-img create -f FMT -o help [FILENAME]` prints. With a
// filename qemu merges the file protocol's keys into one sorted list.
std::string create_option_help(abi::Format format, bool filename_given);

}  // namespace instar::cli
