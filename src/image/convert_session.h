// `convert`: which files are opened (each source and, beneath the
// allowlist, its backing chain, as `info --backing-chain` opens them; the
// output as a new unnamed file, or the existing target with -n), the guest
// runs that check them (`info` of every layer) and the one that converts,
// and the checks of its answer. The command line only parses its
// arguments, calls this and prints.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "abi/format.h"
#include "abi/ops/create.h"
#include "host/guest_run.h"
#include "host/raw_file.h"

namespace instar::image {

struct ConvertQuery {
    std::vector<std::string> sources;               // concatenated, in this order
    abi::Format source_format = abi::Format::none;  // -f; none: detect each
    std::string output;
    abi::Format output_format = abi::Format::raw;   // -O
    // The image qemu-img would create for -O and -o at the sources' total
    // size (the command line resolves it, with qemu-img's checks, once
    // that size is known), and the file attributes -o asks for. Required
    // for outputs other than raw; for raw, unset means no -o.
    struct OutputImage {
        abi::CreateRequest request;
        HostFileHints hints;
    };
    std::function<OutputImage(uint64_t size)> output_image;
    // -l: the internal snapshot of the first source's image to read instead
    // of its active state (qemu's bdrv_snapshot_load_tmp): by id and/or
    // name (-l snapshot.id=ID,snapshot.name=NAME), or, from -l TEXT, by id
    // and then by name.
    struct Snapshot {
        std::optional<std::string> id, name;
        bool id_or_name = false;
    };
    std::optional<Snapshot> snapshot;
    uint64_t min_sparse_bytes = 4096;               // -S; 0: write every byte
    bool existing_target = false;                   // -n
    bool target_is_zero = false;                    // --target-is-zero
    bool compress = false;                          // -c (qcow2 output)
    std::vector<std::string> backing_dirs;          // the allowlist; empty: each image's directory
    // The target's data reaches the disk before the command ends (every -t
    // but qemu-img convert's default, unsafe).
    bool flush = false;
    // -t none or directsync: the output is written with O_DIRECT where
    // the requests allow it (host/direct_io.h), as qemu's cache=none.
    bool direct = false;
    // -r: the output's writes held to this many bytes a second (0: none).
    uint64_t rate_limit = 0;
};

// Whether convert can write a new image of `format` (the guest has a writer
// for it; raw is the host's own).
bool convert_writes(abi::Format format);
// Whether its driver has compressed writes (convert -c), as qemu's
// block_driver_can_compress says.
bool convert_compresses(abi::Format format);

// Runs the conversion; every guest run is made from `run` (deadline,
// verbosity, log and progress callbacks). Throws instar::Error with one
// line, in qemu-img's words where it has them; a new output is then left
// nowhere, an existing target untouched unless -n.
void convert_images(const ConvertQuery& query, const GuestRun& run);

}  // namespace instar::image
