// qemu's QDict, as qemu-img prints one: qemu builds its answer as QAPI
// objects, turns them into QDicts and prints those, and both the JSON and
// the human "Format specific information" follow a QDict's iteration
// order. A renderer builds the same tree (QValue, keys in QAPI declaration
// order) and these functions print it the way qemu does.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace instar::cli {

// One QObject: a string, an integer, a boolean, a dict or a list.
struct QValue {
    enum class Kind { string, integer, boolean, dict, list };
    Kind kind = Kind::dict;
    std::string text;  // string: bytes as qemu holds them (a C string)
    int64_t integer = 0;
    bool boolean = false;
    std::vector<std::string> keys;  // dict: in insertion order
    std::vector<QValue> items;      // dict values (parallel to keys) or list items

    static QValue str(std::string s) {
        QValue v;
        v.kind = Kind::string;
        v.text = std::move(s);
        return v;
    }
    // QAPI 'int' is int64: wider unsigned values print negative, as in qemu.
    static QValue num(uint64_t n) {
        QValue v;
        v.kind = Kind::integer;
        v.integer = int64_t(n);
        return v;
    }
    static QValue flag(bool b) {
        QValue v;
        v.kind = Kind::boolean;
        v.boolean = b;
        return v;
    }
    static QValue list() {
        QValue v;
        v.kind = Kind::list;
        return v;
    }
    void put(std::string key, QValue value) {
        keys.push_back(std::move(key));
        items.push_back(std::move(value));
    }
};

// The indexes of `keys` in the order a QDict holding them iterates.
std::vector<size_t> qdict_order(const std::vector<std::string>& keys);

// The tree as JSON, in QDict order, strings decoded to code points as qemu
// decodes them.
nlohmann::ordered_json qemu_json(const QValue& v);

// JSON text exactly as qemu's pretty printer writes it.
std::string qemu_json_dump(const nlohmann::ordered_json& j);

// qemu's human dump of a QDict/QList at `indent` (four spaces a level),
// appended to `out`; strings are escaped (escape_untrusted: they may come
// from an image).
void qemu_human_dump(std::string& out, const QValue& v, int indent);

}  // namespace instar::cli
