#include "cli/qemu_qdict.h"

#include <algorithm>
#include <numeric>

#include "host/escape.h"

namespace instar::cli {


// A QDict has 512 buckets chosen by a hash of the key (the tdb/gdbm hash),
// iterates buckets in order, and within a bucket puts the newest entry
// first.
namespace {

unsigned qdict_bucket(const std::string& key) {
    uint32_t h = uint32_t(0x238F13AFu * uint32_t(key.size()));
    for (size_t i = 0; i < key.size(); ++i) h += uint32_t(static_cast<unsigned char>(key[i])) << ((i * 5) % 24);
    h = 1103515243u * h + 12345u;
    return h % 512;
}

}  // namespace

std::vector<size_t> qdict_order(const std::vector<std::string>& keys) {
    std::vector<size_t> order(keys.size());
    std::iota(order.begin(), order.end(), 0);
    std::vector<unsigned> bucket(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) bucket[i] = qdict_bucket(keys[i]);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return bucket[a] != bucket[b] ? bucket[a] < bucket[b] : a > b;
    });
    return order;
}

// ---- JSON -----------------------------------------------------------------

namespace {

// qemu decodes a string as (modified) UTF-8 one sequence at a time and
// prints each code point; a sequence that is not a valid character becomes
// U+FFFD. This gives the same code points as valid UTF-8, so that the JSON
// library's \u escapes match qemu's.
void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

std::string qemu_code_points(std::string_view in) {
    constexpr uint32_t kReplacement = 0xFFFD;
    std::string out;
    size_t i = 0;
    while (i < in.size()) {
        const auto lead = static_cast<unsigned char>(in[i]);
        if (lead < 0x80) {
            out += char(lead);
            ++i;
            continue;
        }
        if (lead >= 0xFE || (lead & 0x40) == 0) {  // impossible byte, or a stray continuation byte
            append_utf8(out, kReplacement);
            ++i;
            continue;
        }
        // Leading ones give the length (2 to 6 bytes); the sequence ends at
        // the first missing continuation byte.
        unsigned length = 0;
        while (length < 8 && (lead & (0x80u >> length))) ++length;
        uint32_t cp = lead & (0x7Fu >> length);
        size_t j = i + 1;
        bool complete = true;
        for (unsigned k = 1; k < length; ++k, ++j) {
            if (j >= in.size() || (static_cast<unsigned char>(in[j]) & 0xC0) != 0x80) {
                complete = false;
                break;
            }
            cp = (cp << 6) | (static_cast<unsigned char>(in[j]) & 0x3F);
        }
        i = j;
        if (!complete) {
            append_utf8(out, kReplacement);
            continue;
        }
        static const uint32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000};
        bool valid = cp <= 0x10FFFF && !(cp >= 0xFDD0 && cp <= 0xFDEF) && (cp & 0xFFFE) != 0xFFFE &&
                     !(cp >= 0xD800 && cp <= 0xDFFF);
        bool overlong = cp < kShortest[length];
        if (overlong && cp == 0 && length == 2) overlong = false;  // C0 80: modified UTF-8's NUL
        append_utf8(out, valid && !overlong ? cp : kReplacement);
    }
    return out;
}

}  // namespace

nlohmann::ordered_json qemu_json(const QValue& v) {
    switch (v.kind) {
    case QValue::Kind::string:
        return qemu_code_points(v.text);
    case QValue::Kind::integer:
        return v.integer;
    case QValue::Kind::boolean:
        return v.boolean;
    case QValue::Kind::list: {
        auto a = nlohmann::ordered_json::array();
        for (const QValue& item : v.items) a.push_back(qemu_json(item));
        return a;
    }
    case QValue::Kind::dict:
        break;
    }
    auto o = nlohmann::ordered_json::object();
    for (size_t i : qdict_order(v.keys)) o[v.keys[i]] = qemu_json(v.items[i]);
    return o;
}

// The library writes what qemu writes (4-space indent, ": ", ASCII only
// with the same \b \f \n \r \t shorthands and \u escapes for the rest,
// DEL included) except that qemu spells the hex digits in upper case, and
// closes every list and dict on a line of its own, even an empty one
// ("[" newline, indent, "]", where the library writes "[]").
std::string qemu_json_dump(const nlohmann::ordered_json& j) {
    const std::string text = j.dump(4, ' ', true);
    std::vector<char> out;
    out.reserve(text.size() + 64);
    bool in_string = false;
    size_t line_start = 0;  // in `out`
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        out.push_back(c);
        if (in_string) {
            if (c == '"') {
                in_string = false;
            } else if (c == '\\' && i + 1 < text.size()) {
                const char escaped = text[++i];
                out.push_back(escaped);
                if (escaped != 'u') continue;
                for (size_t k = i + 1; k < i + 5 && k < text.size(); ++k) {
                    const char h = text[k];
                    out.push_back(h >= 'a' && h <= 'f' ? char(h - 'a' + 'A') : h);
                }
                i += 4;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '\n') {
            line_start = out.size();
        } else if ((c == '[' || c == '{') && i + 1 < text.size() && text[i + 1] == (c == '[' ? ']' : '}')) {
            size_t indent = 0;
            while (line_start + indent < out.size() && out[line_start + indent] == ' ') ++indent;
            out.push_back('\n');
            out.insert(out.end(), indent, ' ');
            out.push_back(text[++i]);
        }
    }
    return std::string(out.begin(), out.end());
}

// ---- human ------------------------------------------------------------------

namespace {

// qemu's human dump of a QDict/QList: one "key: value" line per member,
// dashes in keys shown as spaces, nested containers on the following lines
// four spaces deeper.
void dump_member(std::string& out, const std::string& label, const QValue& v, int indent) {
    const bool composite = v.kind == QValue::Kind::dict || v.kind == QValue::Kind::list;
    out += std::string(size_t(indent) * 4, ' ') + label + ":" + (composite ? "\n" : " ");
    qemu_human_dump(out, v, indent + 1);
    if (!composite) out += "\n";
}

}  // namespace

void qemu_human_dump(std::string& out, const QValue& v, int indent) {
    switch (v.kind) {
    case QValue::Kind::string:
        out += escape_untrusted(v.text);
        break;
    case QValue::Kind::integer:
        out += std::to_string(v.integer);
        break;
    case QValue::Kind::boolean:
        out += v.boolean ? "true" : "false";
        break;
    case QValue::Kind::list:
        for (size_t i = 0; i < v.items.size(); ++i) {
            // Built by appending: GCC 12 at -O3 warns falsely (-Wrestrict,
            // GCC bug 105329) on "[" + std::to_string(i) + "]".
            std::string label = "[";
            label += std::to_string(i);
            label += ']';
            dump_member(out, label, v.items[i], indent);
        }
        break;
    case QValue::Kind::dict:
        for (size_t i : qdict_order(v.keys)) {
            std::string label = v.keys[i];
            std::replace(label.begin(), label.end(), '-', ' ');
            dump_member(out, label, v.items[i], indent);
        }
        break;
    }
}

}  // namespace instar::cli
