// `convert`: the guest-visible content of one or more source images (each
// with its backing chain), concatenated, into the output device.
//
// Input devices hold every layer of every source, in the order the host
// attached them; the host says which device is which layer and what
// format and virtual size `info` reported for it, and the guest refuses to
// go on if the image it opens says otherwise (the file changed between
// the two runs).
#pragma once

#include <stdint.h>

#include "abi/boot_config.h"
#include "abi/format.h"
#include "abi/ops/create.h"

namespace instar::abi {

// qemu-img opens at most 16 backing files below an image in instar (see
// image/info_session.h: kMaxChainDepth); 17 layers per source.
inline constexpr uint32_t kConvertMaxLayersPerSource = 17;
inline constexpr uint32_t kConvertMaxSources = 32;
inline constexpr uint32_t kConvertMaxLayers = kConvertMaxSources * kConvertMaxLayersPerSource;

struct ConvertLayer {
    uint32_t device;  // input device index
    uint32_t format;  // abi::Format, as `info` detected or -f said
    uint64_t virtual_size;
};
static_assert(sizeof(ConvertLayer) == 16);

struct ConvertSource {
    uint32_t first_layer;  // the image named on the command line; its backing file next, and so on
    uint32_t layer_count;
};
static_assert(sizeof(ConvertSource) == 8);

// flags
inline constexpr uint32_t kConvertExistingTarget = 1u << 0;  // -n: the output holds old bytes
inline constexpr uint32_t kConvertTargetIsZero = 1u << 1;    // --target-is-zero: ... that read as zeroes
inline constexpr uint32_t kConvertCompress = 1u << 2;        // -c: the writer's compressed writes

inline constexpr uint32_t kConvertActiveImage = ~uint32_t(0);

struct ConvertConfig {
    uint32_t output_format;  // abi::Format: raw, or an image made from `target`
    uint32_t flags;
    uint32_t source_count;
    uint32_t layer_count;
    // -S in 512-byte sectors: zero runs at least this long are not written
    // (holes in a new target); 0: every byte is written.
    uint64_t min_sparse_sectors;
    uint64_t total_size;  // sum of the sources' virtual sizes: the output's length
    // -l: the internal snapshot of the (single) source's image to read, as
    // its index in the image's snapshot table, or kConvertActiveImage.
    uint32_t snapshot;
    uint32_t reserved;  // 0
    ConvertSource sources[kConvertMaxSources];
    ConvertLayer layers[kConvertMaxLayers];
    // The image qemu-img would create for the output (-O, -o), sized
    // total_size; unused for raw, which the host creates.
    CreateRequest target;
};
static_assert(sizeof(ConvertConfig) == 40 + 8 * kConvertMaxSources + 16 * kConvertMaxLayers + sizeof(CreateRequest));
static_assert(sizeof(ConvertConfig) <= kOpConfigMax);

struct ConvertResult {
    uint64_t total_size;     // == ConvertConfig::total_size
    uint64_t bytes_written;  // data written to the output (not holes, not zeroes left out)
    uint64_t file_size;      // the output file's final length (total_size for raw)
};
static_assert(sizeof(ConvertResult) == 24);

}  // namespace instar::abi
