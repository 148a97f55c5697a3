#include "cli/create_option_table.h"

#include <algorithm>
#include <cstring>

namespace instar::cli {
namespace {

using abi::Format;

// Help texts are qemu's, since `-o help` must print them verbatim.
constexpr OptionDesc kSize{"size", OptionType::size, "Virtual disk size", nullptr};
constexpr OptionDesc kBackingFile{"backing_file", OptionType::string, "File name of a base image", nullptr};

// The file protocol's own keys; qemu appends those a format lacks.
constexpr OptionDesc kNocow{"nocow", OptionType::boolean, "Turn off copy-on-write (valid only on btrfs)", nullptr,
                           true};
constexpr OptionDesc kFilePrealloc{"preallocation", OptionType::string,
                                   "Preallocation mode (allowed values: off, falloc, full)", nullptr, true};
constexpr OptionDesc kExtentSizeHint{"extent_size_hint", OptionType::size,
                                     "Extent size hint for the image file, 0 to disable", nullptr, true};

std::vector<OptionDesc> with_protocol(std::vector<OptionDesc> descs) {
    for (const OptionDesc& p : {kSize, kNocow, kFilePrealloc, kExtentSizeHint}) {
        bool present = std::any_of(descs.begin(), descs.end(),
                                   [&](const OptionDesc& d) { return std::strcmp(d.name, p.name) == 0; });
        if (!present) descs.push_back(p);
    }
    return descs;
}

const std::vector<OptionDesc>& raw_descs() {
    static const std::vector<OptionDesc> d = with_protocol({kSize});
    return d;
}

const std::vector<OptionDesc>& qcow2_descs() {
    static const std::vector<OptionDesc> d = with_protocol({
        {"encryption", OptionType::boolean,
         "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)", nullptr},
        {"encrypt.format", OptionType::string, "Encrypt the image, format choices: 'aes', 'luks'", nullptr},
        {"encrypt.key-secret", OptionType::string, "ID of secret providing qcow AES key or LUKS passphrase", nullptr},
        {"encrypt.cipher-alg", OptionType::string, "Name of encryption cipher algorithm", nullptr},
        {"encrypt.cipher-mode", OptionType::string, "Name of encryption cipher mode", nullptr},
        {"encrypt.ivgen-alg", OptionType::string, "Name of IV generator algorithm", nullptr},
        {"encrypt.ivgen-hash-alg", OptionType::string, "Name of IV generator hash algorithm", nullptr},
        {"encrypt.hash-alg", OptionType::string, "Name of encryption hash algorithm", nullptr},
        {"encrypt.iter-time", OptionType::number, "Time to spend in PBKDF in milliseconds", nullptr},
        {"cluster_size", OptionType::size, "qcow2 cluster size", "65536"},
        {"extended_l2", OptionType::boolean, "Extended L2 tables", "off"},
        {"preallocation", OptionType::string, "Preallocation mode (allowed values: off, metadata, falloc, full)",
         nullptr},
        {"compression_type", OptionType::string, "Compression method used for image cluster compression", "zlib"},
        kSize,
        {"compat", OptionType::string, "Compatibility level (v2 [0.10] or v3 [1.1])", nullptr},
        kBackingFile,
        {"backing_fmt", OptionType::string, "Image format of the base image", nullptr},
        {"data_file", OptionType::string, "File name of an external data file", nullptr},
        {"data_file_raw", OptionType::boolean, "The external data file must stay valid as a raw image", nullptr},
        {"lazy_refcounts", OptionType::boolean, "Postpone refcount updates", "off"},
        {"refcount_bits", OptionType::number, "Width of a reference count entry in bits", "16"},
    });
    return d;
}

const std::vector<OptionDesc>& vmdk_descs() {
    static const std::vector<OptionDesc> d = with_protocol({
        kSize,
        {"adapter_type", OptionType::string,
         "Virtual adapter type, can be one of ide (default), lsilogic, buslogic or legacyESX", nullptr},
        kBackingFile,
        {"backing_fmt", OptionType::string, "Must be 'vmdk' if present", nullptr},
        {"compat6", OptionType::boolean, "VMDK version 6 image", "off"},
        {"hwversion", OptionType::string, "VMDK hardware version", "undefined"},
        {"toolsversion", OptionType::string, "VMware guest tools version", nullptr},
        {"subformat", OptionType::string,
         "VMDK flat extent format, can be one of {monolithicSparse (default) | monolithicFlat | "
         "twoGbMaxExtentSparse | twoGbMaxExtentFlat | streamOptimized} ",
         nullptr},
        {"zeroed_grain", OptionType::boolean, "Enable efficient zero writes using the zeroed-grain GTE feature",
         nullptr},
    });
    return d;
}

const std::vector<OptionDesc>& vpc_descs() {
    static const std::vector<OptionDesc> d = with_protocol({
        kSize,
        {"subformat", OptionType::string,
         "Type of virtual hard disk format. Supported formats are {dynamic (default) | fixed} ", nullptr},
        {"force_size", OptionType::boolean,
         "Force disk size calculation to use the actual size specified, rather than using the nearest "
         "CHS-based calculation",
         nullptr},
    });
    return d;
}

const std::vector<OptionDesc>& vhdx_descs() {
    static const std::vector<OptionDesc> d = with_protocol({
        {"size", OptionType::size, "Virtual disk size; max of 64TB.", nullptr},
        {"log_size", OptionType::size, "Log size; min 1MB.", "1048576"},
        {"block_size", OptionType::size, "Block Size; min 1MB, max 256MB. 0 means auto-calculate based on image size.",
         "0"},
        {"subformat", OptionType::string, "VHDX format type, can be either 'dynamic' or 'fixed'. Default is 'dynamic'.",
         nullptr},
        {"block_state_zero", OptionType::boolean,
         "Force use of payload blocks of type 'ZERO'. Non-standard, but default.  Do not set to 'off' when using "
         "'qemu-img convert' with subformat=dynamic.",
         nullptr},
    });
    return d;
}

const char* type_text(OptionType t) {
    switch (t) {
    case OptionType::string: return "str";
    case OptionType::boolean: return "bool (on/off)";
    case OptionType::number: return "num";
    case OptionType::size: return "size";
    }
    return "";
}

bool in_list(std::string_view name, std::initializer_list<const char*> list) {
    return std::any_of(list.begin(), list.end(), [&](const char* n) { return name == n; });
}

}  // namespace

const std::vector<OptionDesc>& create_option_descs(Format format) {
    switch (format) {
    case Format::raw: return raw_descs();
    case Format::qcow2: return qcow2_descs();
    case Format::vmdk: return vmdk_descs();
    case Format::vpc: return vpc_descs();
    case Format::vhdx: return vhdx_descs();
    case Format::none: break;
    }
    return raw_descs();
}

const OptionDesc* find_option_desc(Format format, std::string_view name) {
    for (const OptionDesc& d : create_option_descs(format)) {
        if (name == d.name) return &d;
    }
    return nullptr;
}

bool is_qemu_format_name(std::string_view name) {
    return in_list(name, {"blkdebug", "blklogwrites", "blkverify", "bochs", "cloop", "compress",
                          "copy-before-write", "copy-on-read", "dmg", "file", "ftp", "ftps", "gluster",
                          "host_cdrom", "host_device", "http", "https", "iscsi", "iser", "luks", "nbd", "nfs",
                          "null-aio", "null-co", "nvme", "parallels", "preallocate", "qcow", "qcow2", "qed",
                          "quorum", "raw", "rbd", "replication", "snapshot-access", "ssh", "throttle", "vdi",
                          "vhdx", "vmdk", "vpc", "vvfat"});
}

bool is_qemu_block_driver_name(std::string_view name) {
    return in_list(name, {"blkdebug", "blklogwrites", "blkreplay", "blkverify", "bochs", "cloop", "compress",
                          "copy-before-write", "copy-on-read", "dmg", "file", "snapshot-access", "ftp", "ftps",
                          "gluster", "host_cdrom", "host_device", "http", "https", "iscsi", "luks", "nbd", "nfs",
                          "null-aio", "null-co", "nvme", "parallels", "preallocate", "qcow", "qcow2", "qed",
                          "quorum", "raw", "rbd", "replication", "ssh", "throttle", "vdi", "vhdx", "vmdk", "vpc",
                          "vvfat"});
}

std::string create_option_help(Format format, bool filename_given) {
    // Without a filename qemu lists only the format driver's keys.
    std::vector<std::string> lines;
    for (const OptionDesc& d : create_option_descs(format)) {
        if (d.protocol && !filename_given) continue;
        std::string line = "  " + std::string(d.name) + "=<" + type_text(d.type) + ">";
        if (line.size() < 24) line.append(24 - line.size(), ' ');
        line += " - ";
        line += d.help;
        lines.push_back(std::move(line));
    }
    std::sort(lines.begin(), lines.end());

    std::string out = filename_given ? "Supported options:\n"
                                     : "Supported " + std::string(abi::format_name(format)) + " options:\n";
    for (const std::string& l : lines) out += l + "\n";
    if (!filename_given) {
        out += "\nThe protocol level may support further options.\n"
               "Specify the target filename to include those options.\n";
    }
    return out;
}

}  // namespace instar::cli
