#include "cli/info_render.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "abi/ops/create.h"
#include "cli/qemu_qdict.h"
#include "host/error.h"
#include "host/escape.h"
#include "image/qemu_paths.h"

namespace instar::cli {
namespace {

using abi::Format;
using image::info_backing_file;
using image::info_format_name;
using image::info_full_backing_filename;
using image::info_string;
using image::qemu_path_combine;

// ---- the tree qemu builds ---------------------------------------------------

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
    switch (Format(img.info.format)) {
    case Format::qcow2:
        return qcow2_tree(img);
    case Format::vmdk:
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
    if (!(r.format == uint32_t(Format::vmdk) && (r.vmdk.flags & abi::kVmdkMixedExtents)))
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

// ---- human ------------------------------------------------------------------

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
        qemu_human_dump(out, *data, 1);
    }
    return out;
}

}  // namespace

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

// glibc loads the zone on the first localtime_r() and, on every tzset()
// with TZ unset, stats /etc/localtime again: both are system calls the
// sandbox refuses. So the zone is loaded here, once, and rendering only
// calls localtime_r().
void prepare_info_render() { tzset(); }

std::string render_info_human(const std::vector<CheckedInfoImage>& chain) {
    if (chain.empty()) throw Error("info: no image to show");
    std::string out;
    for (size_t i = 0; i < chain.size(); ++i) {
        if (i != 0) out += "\n";
        out += human_image(*chain[i]);
    }
    return out;
}

std::string render_info_json(const std::vector<CheckedInfoImage>& chain, bool backing_chain) {
    if (chain.empty()) throw Error("info: no image to show");
    if (!backing_chain && chain.size() != 1) throw Error("info: one image without --backing-chain");
    nlohmann::ordered_json j;
    if (backing_chain) {
        j = nlohmann::ordered_json::array();
        for (const CheckedInfoImage& img : chain) j.push_back(qemu_json(image_tree(*img)));
    } else {
        j = qemu_json(image_tree(*chain.front()));
    }
    return qemu_json_dump(j) + "\n";
}

}  // namespace instar::cli
