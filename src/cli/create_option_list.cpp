#include "cli/create_option_list.h"

namespace instar::cli {

bool is_valid_option_list(std::string_view text) {
    if (text.empty() || text.front() == ',') return false;
    size_t trailing = 0;
    while (trailing < text.size() && text[text.size() - 1 - trailing] == ',') ++trailing;
    return trailing % 2 == 0;
}

std::string join_option_lists(const std::vector<std::string>& lists) {
    std::string joined;
    for (const std::string& l : lists) {
        if (!joined.empty()) joined += ',';
        joined += l;
    }
    return joined;
}

std::vector<RawOption> split_option_list(std::string_view text) {
    std::vector<RawOption> out;
    size_t p = 0;
    while (p < text.size()) {
        RawOption opt;
        size_t len = text.find_first_of("=,", p);
        if (len == std::string_view::npos) len = text.size();
        if (len == text.size() || text[len] != '=') {
            opt.flag_form = true;
            opt.name = std::string(text.substr(p, len - p));
            if (opt.name.compare(0, 2, "no") == 0) {
                opt.name.erase(0, 2);
                opt.value = "off";
            } else {
                opt.value = "on";
            }
            p = len;
        } else {
            opt.name = std::string(text.substr(p, len - p));
            p = len + 1;
            // A value runs to the first single comma; ",," is a literal comma.
            while (p < text.size()) {
                if (text[p] == ',') {
                    if (p + 1 < text.size() && text[p + 1] == ',') {
                        opt.value += ',';
                        p += 2;
                        continue;
                    }
                    break;
                }
                opt.value += text[p++];
            }
        }
        if (p < text.size() && text[p] == ',') ++p;
        out.push_back(std::move(opt));
    }
    return out;
}

bool option_list_wants_help(std::string_view text) {
    for (const RawOption& o : split_option_list(text)) {
        if (o.flag_form && o.value == "on" && (o.name == "help" || o.name == "?")) return true;
    }
    return false;
}

}  // namespace instar::cli
