#include "cli/info_render.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <numeric>
#include <nlohmann/json.hpp>

#include "abi/format_names.h"
#include "abi/ops/create.h"
#include "cli/info_validate.h"
#include "host/error.h"
#include "host/escape.h"

namespace instar::cli {
namespace {

using abi::BackingFormat;

// qemu builds its answer as QAPI objects, turns them into QDicts and prints
// those; both the JSON and the "Format specific information" text follow
// the QDict's iteration order. So instar builds the same tree, keys in
// QAPI declaration order, and orders them the way a QDict iterates.
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

// A QDict has 512 buckets chosen by a hash of the key (the tdb/gdbm hash),
// iterates buckets in order, and within a bucket puts the newest entry
// first.
unsigned qdict_bucket(const std::string& key) {
    uint32_t h = uint32_t(0x238F13AFu * uint32_t(key.size()));
    for (size_t i = 0; i < key.size(); ++i) h += uint32_t(static_cast<unsigned char>(key[i])) << ((i * 5) % 24);
    h = 1103515243u * h + 12345u;
    return h % 512;
}

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

nlohmann::ordered_json to_json(const QValue& v) {
    switch (v.kind) {
    case QValue::Kind::string:
        return qemu_code_points(v.text);
    case QValue::Kind::integer:
        return v.integer;
    case QValue::Kind::boolean:
        return v.boolean;
    case QValue::Kind::list: {
        auto a = nlohmann::ordered_json::array();
        for (const QValue& item : v.items) a.push_back(to_json(item));
        return a;
    }
    case QValue::Kind::dict:
        break;
    }
    auto o = nlohmann::ordered_json::object();
    for (size_t i : qdict_order(v.keys)) o[v.keys[i]] = to_json(v.items[i]);
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

// ---- the tree qemu builds ---------------------------------------------------

QValue encryption_tree(const Qcow2Encryption& e) {
    QValue d;
    if (e.format == Qcow2Encryption::Format::aes) {
        d.put("format", QValue::str("aes"));
        return d;
    }
    d.put("format", QValue::str("luks"));
    d.put("cipher-alg", QValue::str(e.cipher_alg));
    d.put("cipher-mode", QValue::str(e.cipher_mode));
    d.put("ivgen-alg", QValue::str(e.ivgen_alg));
    if (e.ivgen_hash_alg) d.put("ivgen-hash-alg", QValue::str(*e.ivgen_hash_alg));
    d.put("hash-alg", QValue::str(e.hash_alg));
    d.put("payload-offset", QValue::num(e.payload_offset));
    d.put("master-key-iters", QValue::num(e.master_key_iters));
    // qemu copies the header bytes into a C string.
    d.put("uuid", QValue::str(e.uuid.substr(0, e.uuid.find('\0'))));
    QValue slots = QValue::list();
    for (const LuksSlotInfo& s : e.slots) {
        QValue slot;
        slot.put("active", QValue::flag(s.active));
        if (s.active) {
            slot.put("iters", QValue::num(s.iters));
            slot.put("stripes", QValue::num(s.stripes));
        }
        slot.put("key-offset", QValue::num(s.key_offset));
        slots.items.push_back(std::move(slot));
    }
    d.put("slots", std::move(slots));
    return d;
}

QValue qcow2_tree(const InfoImage& img) {
    const abi::InfoQcow2& q = img.info.qcow2;
    QValue d;
    d.put("compat", QValue::str(q.version == 2 ? "0.10" : "1.1"));
    if (q.version == 3) {
        if (q.flags & abi::kQcow2HasDataFile) d.put("data-file", QValue::str(info_string(q.data_file)));
        if (q.flags & abi::kQcow2HasDataFile) d.put("data-file-raw", QValue::flag(q.flags & abi::kQcow2DataFileRaw));
        d.put("extended-l2", QValue::flag(q.flags & abi::kQcow2ExtendedL2));
        d.put("lazy-refcounts", QValue::flag(q.flags & abi::kQcow2LazyRefcounts));
        d.put("corrupt", QValue::flag(q.flags & abi::kQcow2Corrupt));
    }
    d.put("refcount-bits", QValue::num(q.refcount_bits));
    if (img.encryption) d.put("encrypt", encryption_tree(*img.encryption));
    if (!img.bitmaps.empty()) {
        QValue list = QValue::list();
        for (const abi::InfoBitmap& b : img.bitmaps) {
            QValue bitmap;
            bitmap.put("name", QValue::str(info_string(b.name)));
            bitmap.put("granularity", QValue::num(b.granularity));
            QValue flags = QValue::list();
            if (b.flags & abi::kInfoBitmapInUse) flags.items.push_back(QValue::str("in-use"));
            if (b.flags & abi::kInfoBitmapAuto) flags.items.push_back(QValue::str("auto"));
            bitmap.put("flags", std::move(flags));
            list.items.push_back(std::move(bitmap));
        }
        d.put("bitmaps", std::move(list));
    }
    d.put("compression-type",
          QValue::str(q.compression_type == uint32_t(abi::Qcow2Compression::zstd) ? "zstd" : "zlib"));
    return d;
}

QValue vmdk_tree(const InfoImage& img) {
    const abi::InfoVmdk& v = img.info.vmdk;
    QValue d;
    d.put("create-type", QValue::str(info_string(v.create_type)));
    d.put("cid", QValue::num(v.cid));
    d.put("parent-cid", QValue::num(v.parent_cid));
    QValue extents = QValue::list();
    for (const abi::InfoVmdkExtent& e : img.extents) {
        // Each extent is shown as an ImageInfo of the file qemu opened for
        // it: the image itself, or the descriptor's name next to it.
        std::string name = info_string(e.filename);
        std::string filename = e.filename.length == 0 ? img.filename : qemu_path_combine(img.filename, name);
        QValue x;
        x.put("filename", QValue::str(filename));
        x.put("format", QValue::str(info_string(e.format)));
        x.put("virtual-size", QValue::num(e.virtual_size));
        if (e.flags & abi::kVmdkExtentHasClusterSize) x.put("cluster-size", QValue::num(e.cluster_size));
        if (e.flags & abi::kVmdkExtentCompressed) x.put("compressed", QValue::flag(true));
        extents.items.push_back(std::move(x));
    }
    d.put("extents", std::move(extents));
    return d;
}

// The "data" member of ImageInfoSpecific, or nothing for formats qemu 7.2
// shows no details of.
std::optional<QValue> format_specific(const InfoImage& img) {
    switch (BackingFormat(img.info.format)) {
    case BackingFormat::qcow2:
        return qcow2_tree(img);
    case BackingFormat::vmdk:
        return vmdk_tree(img);
    default:
        return std::nullopt;
    }
}

QValue snapshot_tree(const abi::InfoSnapshot& s) {
    QValue d;
    d.put("id", QValue::str(info_string(s.id)));
    d.put("name", QValue::str(info_string(s.name)));
    d.put("vm-state-size", QValue::num(s.vm_state_size));
    d.put("date-sec", QValue::num(s.date_sec));
    d.put("date-nsec", QValue::num(s.date_nsec));
    d.put("vm-clock-sec", QValue::num(s.vm_clock_nsec / 1000000000));
    d.put("vm-clock-nsec", QValue::num(s.vm_clock_nsec % 1000000000));
    if (s.has_icount) d.put("icount", QValue::num(s.icount));
    return d;
}

// qemu takes the cluster size from BlockDriverInfo, where it is an int: a
// vpc block size of 2 GiB (the one valid value that does not fit) shows as
// -2147483648.
int64_t qemu_cluster_size(const abi::InfoResult& r) { return int32_t(uint32_t(r.cluster_size)); }

QValue image_tree(const InfoImage& img) {
    const abi::InfoResult& r = img.info;
    QValue d;
    d.put("filename", QValue::str(img.filename));
    d.put("format", QValue::str(info_format_name(r.format)));
    // qemu has no dirty flag when its get_info fails.
    if (!(r.format == uint32_t(BackingFormat::vmdk) && (r.vmdk.flags & abi::kVmdkMixedExtents)))
        d.put("dirty-flag", QValue::flag(r.flags & abi::kInfoDirty));
    d.put("actual-size", QValue::num(img.actual_size));
    d.put("virtual-size", QValue::num(r.virtual_size));
    if (r.flags & abi::kInfoHasClusterSize) d.put("cluster-size", QValue::num(uint64_t(qemu_cluster_size(r))));
    if (r.flags & abi::kInfoEncrypted) d.put("encrypted", QValue::flag(true));
    if (auto backing = info_backing_file(r)) {
        d.put("backing-filename", QValue::str(*backing));
        if (auto full = info_full_backing_filename(img)) d.put("full-backing-filename", QValue::str(*full));
        std::string backing_format = info_string(r.backing_format);
        if ((r.flags & abi::kInfoHasBackingFormat) && !backing_format.empty())
            d.put("backing-filename-format", QValue::str(backing_format));
    }
    if (!img.snapshots.empty()) {
        QValue list = QValue::list();
        for (const abi::InfoSnapshot& s : img.snapshots) list.items.push_back(snapshot_tree(s));
        d.put("snapshots", std::move(list));
    }
    if (auto data = format_specific(img)) {
        QValue spec;
        spec.put("type", QValue::str(info_format_name(r.format)));
        spec.put("data", std::move(*data));
        d.put("format-specific", std::move(spec));
    }
    return d;
}

void validate_image(const InfoImage& img) {
    validate_info_result(img.info);
    validate_info_snapshots(img.info, img.snapshots);
    validate_info_vmdk_extents(img.info, img.extents);
    validate_info_bitmaps(img.info, img.bitmaps);
    // What the result says qemu shows under "encrypt:", and the details
    // to show there, must agree.
    const bool qcow2 = img.info.format == uint32_t(BackingFormat::qcow2);
    const uint32_t format = qcow2 ? img.info.qcow2.encrypt_format : uint32_t(abi::Qcow2EncryptFormat::none);
    if (format != uint32_t(abi::Qcow2EncryptFormat::none) && !img.encryption)
        throw Error("invalid info result: an encrypted qcow2 image without its encryption details");
    if (img.encryption) {
        const auto expected = img.encryption->format == Qcow2Encryption::Format::aes ? abi::Qcow2EncryptFormat::aes
                                                                                     : abi::Qcow2EncryptFormat::luks;
        if (format != uint32_t(expected))
            throw Error("invalid info result: encryption details disagree with the image's encryption");
        validate_qcow2_encryption(*img.encryption);
    }
}

// ---- human ------------------------------------------------------------------

__attribute__((format(printf, 1, 2))) std::string format(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    va_list again;
    va_copy(again, args);
    int n = std::vsnprintf(nullptr, 0, fmt, args);
    va_end(args);
    std::string out(size_t(n > 0 ? n : 0) + 1, '\0');
    std::vsnprintf(out.data(), out.size(), fmt, again);
    va_end(again);
    out.resize(out.size() - 1);
    return out;
}

void dump_value(std::string& out, const QValue& v, int indent);

// qemu's human dump of a QDict/QList: one "key: value" line per member,
// dashes in keys shown as spaces, nested containers on the following lines
// four spaces deeper.
void dump_member(std::string& out, const std::string& label, const QValue& v, int indent) {
    const bool composite = v.kind == QValue::Kind::dict || v.kind == QValue::Kind::list;
    out += std::string(size_t(indent) * 4, ' ') + label + ":" + (composite ? "\n" : " ");
    dump_value(out, v, indent + 1);
    if (!composite) out += "\n";
}

void dump_value(std::string& out, const QValue& v, int indent) {
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

std::string snapshot_date(uint32_t seconds) {
    time_t t = time_t(seconds);
    tm local{};
    if (!localtime_r(&t, &local)) return "";
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
    return std::string(buf, n);
}

std::string snapshot_clock(uint64_t nsec) {
    uint64_t secs = nsec / 1000000000;
    return format("%02d:%02d:%02d.%03d", int(secs / 3600), int((secs / 60) % 60), int(secs % 60),
                  int((nsec / 1000000) % 1000));
}

void dump_snapshots(std::string& out, const std::vector<abi::InfoSnapshot>& snapshots) {
    out += "Snapshot list:\n";
    out += format("%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
    for (const abi::InfoSnapshot& s : snapshots) {
        std::string icount = s.has_icount ? std::to_string(int64_t(s.icount)) : "";
        out += format("%-9s %-16s %8s%20s%13s%11s\n", escape_untrusted(info_string(s.id)).c_str(),
                      escape_untrusted(info_string(s.name)).c_str(), qemu_size_to_str(s.vm_state_size).c_str(),
                      snapshot_date(s.date_sec).c_str(), snapshot_clock(s.vm_clock_nsec).c_str(), icount.c_str());
    }
}

std::string human_image(const InfoImage& img) {
    const abi::InfoResult& r = img.info;
    std::string out;
    out += "image: " + escape_untrusted(img.filename) + "\n";
    out += std::string("file format: ") + info_format_name(r.format) + "\n";
    out += "virtual size: " + qemu_size_to_str(r.virtual_size) + " (" + std::to_string(r.virtual_size) + " bytes)\n";
    out += "disk size: " + qemu_size_to_str(img.actual_size) + "\n";
    if (r.flags & abi::kInfoEncrypted) out += "encrypted: yes\n";
    if (r.flags & abi::kInfoHasClusterSize) out += "cluster_size: " + std::to_string(qemu_cluster_size(r)) + "\n";
    if (r.flags & abi::kInfoDirty) out += "cleanly shut down: no\n";
    if (auto backing = info_backing_file(r)) {
        out += "backing file: " + escape_untrusted(*backing);
        auto full = info_full_backing_filename(img);
        if (!full)
            out += " (cannot determine actual path)";
        else if (*full != *backing)
            out += " (actual path: " + escape_untrusted(*full) + ")";
        out += "\n";
        std::string backing_format = info_string(r.backing_format);
        if ((r.flags & abi::kInfoHasBackingFormat) && !backing_format.empty())
            out += "backing file format: " + escape_untrusted(backing_format) + "\n";
    }
    if (!img.snapshots.empty()) dump_snapshots(out, img.snapshots);
    if (auto data = format_specific(img)) {
        out += "Format specific information:\n";
        dump_value(out, *data, 1);
    }
    return out;
}

}  // namespace

const char* info_format_name(uint32_t format) {
    const char* name = abi::backing_format_name(BackingFormat(format));
    return name ? name : "unknown";
}

std::string qemu_size_to_str(uint64_t bytes) {
    static const char* const kUnits[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    // qemu picks the unit in floating point: the largest power of 1024 not
    // above bytes * 1.024 (so 1000 bytes is already "0.977 KiB"), then prints
    // three significant digits (so 1023999 bytes is "1e+03 KiB").
    unsigned unit = 0;
    if (bytes != 0) {
        int exponent = std::ilogb(double(bytes) / (1000.0 / 1024.0));
        unit = std::min(unsigned(exponent) / 10, 6u);
    }
    double value = double(bytes) / double(uint64_t(1) << (10 * unit));
    return format("%0.3g %sB", value, kUnits[unit]);
}

std::optional<std::string> info_backing_file(const abi::InfoResult& info) {
    if (!(info.flags & abi::kInfoHasBacking)) return std::nullopt;
    std::string name = info_string(info.backing_file);
    if (name.empty()) return std::nullopt;
    return name;
}

namespace {

// A name like "nbd:host" or "json:{...}": a ':' before any '/'.
bool has_protocol(const std::string& path) {
    size_t p = path.find_first_of(":/");
    return p != std::string::npos && path[p] == ':';
}

}  // namespace

std::string qemu_path_combine(const std::string& base, const std::string& name) {
    if (!name.empty() && name[0] == '/') return name;
    // Keep the base's directory part (and a protocol prefix, if any).
    size_t keep = 0;
    if (has_protocol(base)) keep = base.find(':') + 1;
    size_t slash = base.rfind('/');
    if (slash != std::string::npos) keep = std::max(keep, slash + 1);
    return base.substr(0, keep) + name;
}

std::optional<std::string> qemu_full_backing_filename(const std::string& image_filename, const std::string& backing) {
    if (backing.empty()) return std::nullopt;
    if (backing[0] == '/' || has_protocol(backing)) return backing;
    if (image_filename.empty() || image_filename.rfind("json:", 0) == 0) return std::nullopt;
    return qemu_path_combine(image_filename, backing);
}

std::string info_error_name(const std::string& name) { return escape_untrusted(name); }

std::optional<std::string> info_full_backing_filename(const InfoImage& image) {
    auto backing = info_backing_file(image.info);
    if (!backing) return std::nullopt;
    return qemu_full_backing_filename(image.filename, *backing);
}

// glibc loads the zone on the first localtime_r() and, on every tzset()
// with TZ unset, stats /etc/localtime again: both are system calls the
// sandbox refuses. So the zone is loaded here, once, and rendering only
// calls localtime_r().
void prepare_info_render() { tzset(); }

std::string render_info_human(const std::vector<InfoImage>& chain) {
    if (chain.empty()) throw Error("info: no image to show");
    for (const InfoImage& img : chain) validate_image(img);
    std::string out;
    for (size_t i = 0; i < chain.size(); ++i) {
        if (i != 0) out += "\n";
        out += human_image(chain[i]);
    }
    return out;
}

std::string render_info_json(const std::vector<InfoImage>& chain, bool backing_chain) {
    if (chain.empty()) throw Error("info: no image to show");
    for (const InfoImage& img : chain) validate_image(img);
    if (!backing_chain && chain.size() != 1) throw Error("info: one image without --backing-chain");
    nlohmann::ordered_json j;
    if (backing_chain) {
        j = nlohmann::ordered_json::array();
        for (const InfoImage& img : chain) j.push_back(to_json(image_tree(img)));
    } else {
        j = to_json(image_tree(chain.front()));
    }
    return qemu_json_dump(j) + "\n";
}

}  // namespace instar::cli
