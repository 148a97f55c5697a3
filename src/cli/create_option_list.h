// qemu's "-o" option-string syntax (QemuOpts): key=value pairs separated by
// commas, ",," for a literal comma in a value, a bare "key" meaning
// key=on and "nokey" meaning key=off.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace instar::cli {

struct RawOption {
    std::string name;
    std::string value;       // unescaped
    bool flag_form = false;  // written without '='
};

// qemu-img's check on each -o argument: not empty, no leading comma and no
// unpaired trailing comma.
bool is_valid_option_list(std::string_view text);

// Several -o arguments, joined with ',' as qemu-img does.
std::string join_option_lists(const std::vector<std::string>& lists);

// Split a joined list into its elements, in order ("id" elements included).
std::vector<RawOption> split_option_list(std::string_view text);

// True when some element is a bare "help" or "?".
bool option_list_wants_help(std::string_view text);

}  // namespace instar::cli
