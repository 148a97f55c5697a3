#include "cli/formatting_line.h"

#include "cli/create_option_table.h"

namespace instar::cli {
namespace {

std::string double_commas(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == ',') out += ',';
        out += c;
    }
    return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> formatting_options(const CreatePlan& plan) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const OptionDesc& desc : create_option_descs(plan.format)) {
        const OptionValue* set = nullptr;
        for (auto it = plan.options.rbegin(); it != plan.options.rend(); ++it) {
            if (it->name == desc.name) {
                set = &*it;
                break;
            }
        }
        if (!set && !desc.default_text) continue;
        const std::string value = set ? set->text : desc.default_text;
        if (desc.type == OptionType::string) {
            out.emplace_back(desc.name, double_commas(value));
        } else if (set && (desc.type == OptionType::size || desc.type == OptionType::number)) {
            out.emplace_back(desc.name, std::to_string(static_cast<int64_t>(set->number)));
        } else {
            out.emplace_back(desc.name, value);
        }
    }
    return out;
}

std::string formatting_line(const CreatePlan& plan) {
    // qemu prints "fmt=FMT " and then the options separated by spaces.
    std::string line = "Formatting '" + plan.filename + "', fmt=" + plan.format_name + " ";
    bool first = true;
    for (const auto& [key, value] : formatting_options(plan)) {
        if (!first) line += ' ';
        line += key + "=" + value;
        first = false;
    }
    return line;
}

}  // namespace instar::cli
