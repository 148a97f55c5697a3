// Shared by the vpc and vhdx info tests: `qemu-img info --output=json` of
// a file, and a field-by-field comparison of it with an InfoResult.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "abi/ops/info.h"
#include "formats/common/status.h"
#include "memory_image.h"
#include "vpc_vhdx_test_support.h"

namespace instar::testing::vv {

inline bool all_zero(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i)
        if (b[i] != 0) return false;
    return true;
}

// Every key qemu printed is one we model and equals ours; every field of
// ours that qemu has no key for is empty. actual-size and filename come
// from the host, not the guest.
inline ::testing::AssertionResult same_info(const nlohmann::json& q, const abi::InfoResult& ours,
                                            abi::Format format, const char* format_name) {
    const std::set<std::string> modelled = {"virtual-size", "filename",    "cluster-size",
                                            "format",       "actual-size", "dirty-flag"};
    for (auto& [key, value] : q.items()) {
        if (!modelled.count(key))
            return ::testing::AssertionFailure() << "qemu reports unmodelled " << key << ": " << value;
    }
    if (q.value("format", "") != format_name || ours.format != uint32_t(format)) {
        return ::testing::AssertionFailure() << "format: qemu " << q["format"] << ", ours " << ours.format;
    }
    if (!q.contains("virtual-size") || q["virtual-size"].get<uint64_t>() != ours.virtual_size) {
        return ::testing::AssertionFailure()
               << "virtual-size: qemu " << q["virtual-size"] << ", ours " << ours.virtual_size;
    }
    bool has_cluster = (ours.flags & abi::kInfoHasClusterSize) != 0;
    if (q.contains("cluster-size") != has_cluster ||
        (has_cluster && q["cluster-size"].get<uint64_t>() != ours.cluster_size)) {
        return ::testing::AssertionFailure()
               << "cluster-size: qemu " << (q.contains("cluster-size") ? q["cluster-size"] : "none") << ", ours "
               << (has_cluster ? std::to_string(ours.cluster_size) : "none");
    }
    if (!has_cluster && ours.cluster_size != 0) return ::testing::AssertionFailure() << "stray cluster size";
    // qemu prints the flag whenever the driver answers bdrv_get_info.
    if (!q.contains("dirty-flag") || q["dirty-flag"].get<bool>() != ((ours.flags & abi::kInfoDirty) != 0)) {
        return ::testing::AssertionFailure() << "dirty-flag: qemu " << q.value("dirty-flag", nlohmann::json())
                                             << ", ours " << ((ours.flags & abi::kInfoDirty) != 0);
    }
    if (ours.flags & ~(abi::kInfoHasClusterSize | abi::kInfoDirty)) {
        return ::testing::AssertionFailure() << "unexpected flags " << ours.flags;
    }
    if (ours.backing_file.length != 0 || ours.backing_format.length != 0 || ours.snapshot_count != 0 ||
        ours.reserved != 0 || !all_zero(&ours.qcow2, sizeof ours.qcow2) || !all_zero(&ours.vmdk, sizeof ours.vmdk) ||
        !all_zero(&ours.backing_file, sizeof ours.backing_file)) {
        return ::testing::AssertionFailure() << "fields qemu does not report are not empty";
    }
    return ::testing::AssertionSuccess();
}

// Runs one of the read_info functions on a file, with scratch as the
// guest would give it.
template <typename ReadInfo>
formats::Status read_info_file(ReadInfo fn, const std::string& path, abi::InfoResult& out) {
    FileSource src(path);
    if (!src.ok()) return formats::Status::read_failed;
    Scratch scratch;
    return fn(src, scratch.arena, out);
}

// How a format's reference images are made: qemu-img's name for the
// format, the file, and the middle extent (qemu-io "OFFSET LENGTH") of the
// patterned raw data a converted image holds.
struct ImageKind {
    const char* format;
    const char* file;
    const char* convert_middle;

    std::string create(const TempDir& dir, const std::string& opts, uint64_t size) const {
        return qemu_create(dir, file, format, opts, size);
    }
    std::string convert(const TempDir& dir, const std::string& opts, uint64_t size) const {
        return qemu_convert(dir, file, format, opts, size, convert_middle);
    }
};

// A reference image, made in a fresh directory; returns its path.
using ImageMaker = std::function<std::string(const TempDir&)>;

// One row of an info test's table of qemu-made images.
struct Made {
    const char* name;
    ImageMaker make;
};

inline ImageMaker created(const ImageKind& kind, const char* opts, uint64_t size) {
    return [=](const TempDir& d) { return kind.create(d, opts, size); };
}
inline ImageMaker converted(const ImageKind& kind, const char* opts, uint64_t size) {
    return [=](const TempDir& d) { return kind.convert(d, opts, size); };
}
// Created, then changed by `edit`.
inline ImageMaker edited(const ImageKind& kind, const char* opts, uint64_t size,
                         std::function<void(const std::string&)> edit) {
    return [=](const TempDir& d) {
        std::string p = kind.create(d, opts, size);
        edit(p);
        return p;
    };
}
// Created, then written by the qemu-io commands `io`.
inline ImageMaker written(const ImageKind& kind, const char* opts, uint64_t size, const char* io) {
    return [=](const TempDir& d) {
        std::string p = kind.create(d, opts, size);
        CommandResult w = run_command(qemu_io() + " -f " + kind.format + " " + io + " " + shell_quote(p));
        EXPECT_EQ(w.status, 0) << w.output;
        return p;
    };
}

// qemu-img info and a format's read_info agree on the file: the same
// facts, or both refuse it, ours with `refusal`.
template <typename ReadInfo>
void expect_info_agreement(ReadInfo fn, abi::Format format, const char* format_name, const std::string& path,
                           bool qemu_should_open, const std::string& what, formats::Status refusal) {
    QemuJson q = qemu_info_json(path, format_name);
    EXPECT_EQ(q.ok, qemu_should_open) << what << ": " << q.text;
    abi::InfoResult ours;
    formats::Status s = read_info_file(fn, path, ours);
    if (q.ok) {
        ASSERT_EQ(s, formats::kOk) << what;
        EXPECT_TRUE(same_info(q.json, ours, format, format_name)) << what;
    } else {
        EXPECT_EQ(s, refusal) << what;
    }
}

// Whatever the caller's buffer held, only what qemu reports is set (on the
// qemu-made image at `path`); a refusal leaves nothing behind either.
template <typename ReadInfo>
void expect_clears_result(ReadInfo fn, abi::Format format, const char* format_name, const std::string& path) {
    abi::InfoResult ours;
    std::memset(&ours, 0xA5, sizeof ours);
    ASSERT_EQ(read_info_file(fn, path, ours), formats::kOk);
    QemuJson q = qemu_info_json(path, format_name);
    ASSERT_TRUE(q.ok) << q.text;
    EXPECT_TRUE(same_info(q.json, ours, format, format_name));
    std::memset(&ours, 0xA5, sizeof ours);
    MemorySource junk(std::vector<uint8_t>(4096, 0x5A));
    Scratch scratch;
    EXPECT_EQ(fn(junk, scratch.arena, ours), formats::Status::image_invalid);
    EXPECT_TRUE(all_zero(&ours, sizeof ours));
}

// With 16 bytes of scratch, reading `file_bytes` zero bytes runs out of
// memory rather than past the arena.
template <typename ReadInfo>
void expect_needs_scratch(ReadInfo fn, size_t file_bytes) {
    MemorySource mem(std::vector<uint8_t>(file_bytes, 0));
    std::vector<uint8_t> none(16);
    formats::Arena arena(none.data(), none.size());
    abi::InfoResult ours;
    EXPECT_EQ(fn(mem, arena, ours), formats::Status::out_of_memory);
}

}  // namespace instar::testing::vv
