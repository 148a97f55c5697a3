// Shared by the qcow2 tests: qemu-img create options, building create
// requests, running the emitter and comparing its output with qemu's.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "abi/format.h"
#include "abi/ops/create.h"
#include "formats/common/arena.h"
#include "formats/common/emitter.h"
#include "formats/common/image_io.h"
#include "formats/qcow2/qcow2_create.h"
#include "file_image.h"
#include "memory_image.h"
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace instar::testing::qcow2 {

// The guest's scratch budget for format code.
inline constexpr size_t kGuestScratchBytes = 48u << 20;

// In memory when possible: qemu-img syncs after each metadata update, which
// costs seconds per image on a disk.
class TempDir : public testing::TempDir {
public:
    TempDir() : testing::TempDir("instar-qcow2", TempBase::memory) {}
};

// The options of one `qemu-img create -f qcow2` run, kept in the same terms
// as the CreateRequest the host would build from them.
struct Qcow2Options {
    uint64_t size = 1u << 20;
    uint32_t cluster_size = 65536;
    uint32_t refcount_bits = 16;
    uint32_t version = 3;
    abi::Preallocation prealloc = abi::Preallocation::off;
    bool extended_l2 = false;
    bool lazy_refcounts = false;
    bool zstd = false;
    std::string backing;  // empty: none
    abi::Format backing_format = abi::Format::none;
};

inline const char* prealloc_name(abi::Preallocation p) {
    switch (p) {
    case abi::Preallocation::off: return "off";
    case abi::Preallocation::metadata: return "metadata";
    case abi::Preallocation::falloc: return "falloc";
    case abi::Preallocation::full: return "full";
    }
    return "?";
}

// `-u` keeps qemu-img from opening the backing file, as the host does
// when it resolves the request.
inline std::string qemu_create_command(const Qcow2Options& o, const std::string& out) {
    std::string opts = "cluster_size=" + std::to_string(o.cluster_size) +
                       ",refcount_bits=" + std::to_string(o.refcount_bits) +
                       ",compat=" + (o.version == 3 ? "1.1" : "0.10") +
                       ",preallocation=" + prealloc_name(o.prealloc);
    if (o.extended_l2) opts += ",extended_l2=on";
    if (o.lazy_refcounts) opts += ",lazy_refcounts=on";
    if (o.zstd) opts += ",compression_type=zstd";
    std::string cmd = qemu_img() + " create -q -f qcow2 -o " + opts;
    if (!o.backing.empty()) {
        cmd += " -u -b " + shell_quote(o.backing);
        if (o.backing_format != abi::Format::none) {
            cmd += " -F " + std::string(abi::format_name(o.backing_format));
        }
    }
    return cmd + " " + shell_quote(out) + " " + std::to_string(o.size);
}

inline std::unique_ptr<abi::CreateRequest> make_request(const Qcow2Options& o) {
    auto r = std::make_unique<abi::CreateRequest>();
    std::memset(r.get(), 0, sizeof(*r));
    r->format = static_cast<uint32_t>(abi::Format::qcow2);
    r->flags = abi::kCreateHasSize;
    r->size = o.size;
    r->preallocation = static_cast<uint32_t>(o.prealloc);
    r->qcow2_version = o.version;
    r->cluster_size = o.cluster_size;
    r->refcount_bits = o.refcount_bits;
    r->compression_type = static_cast<uint32_t>(o.zstd ? abi::Qcow2Compression::zstd : abi::Qcow2Compression::zlib);
    if (o.extended_l2) r->flags |= abi::kCreateExtendedL2;
    if (o.lazy_refcounts) r->flags |= abi::kCreateLazyRefcounts;
    if (!o.backing.empty()) {
        r->flags |= abi::kCreateHasBacking;
        std::strncpy(r->backing_file, o.backing.c_str(), sizeof(r->backing_file) - 1);
        r->backing_format = static_cast<uint32_t>(o.backing_format);
    }
    return r;
}

struct EmitRun {
    formats::Status status = formats::Status::internal;
    formats::EmitOutput out{};
};

inline EmitRun emit(const abi::CreateRequest& req, uint64_t virtual_size, formats::ImageSink& sink,
                    size_t scratch = kGuestScratchBytes) {
    std::vector<uint8_t> mem(scratch);
    formats::Arena arena(mem.data(), mem.size());
    formats::EmitInput in{&req, virtual_size, false, 0};
    EmitRun r;
    r.status = formats::qcow2_emit(in, sink, arena, r.out);
    return r;
}

// Empty when equal; otherwise where the first difference is.
inline std::string compare_files(const std::string& a, const std::string& b) {
    if (file_size(a) != file_size(b)) {
        return "sizes differ: " + std::to_string(file_size(a)) + " vs " + std::to_string(file_size(b));
    }
    FILE* fa = std::fopen(a.c_str(), "rb");
    FILE* fb = std::fopen(b.c_str(), "rb");
    std::string result;
    if (!fa || !fb) {
        result = "cannot open";
    } else {
        std::vector<uint8_t> ba(8u << 20), bb(8u << 20);
        uint64_t pos = 0;
        for (;;) {
            size_t na = std::fread(ba.data(), 1, ba.size(), fa);
            size_t nb = std::fread(bb.data(), 1, bb.size(), fb);
            if (na != nb) {
                result = "short read";
                break;
            }
            if (na == 0) break;
            if (std::memcmp(ba.data(), bb.data(), na) != 0) {
                size_t i = 0;
                while (ba[i] == bb[i]) ++i;
                result = "first difference at byte " + std::to_string(pos + i);
                break;
            }
            pos += na;
        }
    }
    if (fa) std::fclose(fa);
    if (fb) std::fclose(fb);
    return result;
}

}  // namespace instar::testing::qcow2
