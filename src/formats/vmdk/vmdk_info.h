// `info` for vmdk: what `qemu-img info` 7.2 reports about a vmdk file, read
// the way its vmdk driver reads it when it opens the file.
#pragma once

#include "abi/ops/info.h"
#include "formats/common/arena.h"
#include "formats/common/image_io.h"
#include "formats/common/record_sink.h"
#include "formats/common/status.h"

namespace instar::formats {

// The files a descriptor's extents live in, as the caller has them: file i
// holds the i-th extent the descriptor names. In the guest each is a
// read-only device the host opened; count() is 0 until the host has.
class VmdkExtentFiles {
public:
    class Reader {
    public:
        virtual Status read(ImageSource& file) = 0;

    protected:
        ~Reader() = default;
    };

    virtual uint32_t count() const = 0;
    // Hands file `index` (< count()) to `reader`: reader's status, or the
    // failure to reach the file.
    virtual Status read(uint32_t index, Reader& reader) = 0;

protected:
    ~VmdkExtentFiles() = default;
};

// Before the host has attached any (and for callers that never do).
class NoVmdkExtentFiles final : public VmdkExtentFiles {
public:
    uint32_t count() const override { return 0; }
    Status read(uint32_t, Reader&) override { return Status::internal; }
};

// Fills `out` (cleared first) and sends each extent to `records`
// (abi::InfoRecord::vmdk_extent, out.vmdk.extent_count of them).
//
// A KDMV sparse file with its descriptor embedded (monolithicSparse,
// streamOptimized) is one extent, the file itself; refusals are those of
// vmdk::open_sparse_file.
//
// A descriptor file (monolithicFlat, twoGbMaxExtent*, vmfs, vmfsSparse,
// seSparse) names extent files. While `extent_files` has none, the answer
// is the list of their names (abi::InfoRecord::vmdk_extent_file, with
// abi::kInfoNeedsExtentFiles; no records when there are more than
// abi::kInfoMaxVmdkExtents, the count says how many); once it has exactly
// as many, the full answer, with each SPARSE/VMFSSPARSE/SESPARSE extent's
// header read from its file (vmdk::open_extent_file). A different number
// of files is bad_config. image_invalid for what qemu refuses, including
// a descriptor naming no extent at all (qemu-img aborts on it) and sizes
// whose sum leaves the block layer's range (qemu-img may then print
// wrapped-around sizes).
//
// Both: unsupported_feature for a parentFileNameHint longer than
// abi::kInfoPathMax (qemu takes up to 4095 bytes), and for VMDK3 (COWD)
// image files.
//
// What qemu shows, and where each piece comes from:
//  - create type: the descriptor file's createType; "streamOptimized"
//    instead when a KDMV extent (or the image) has deflate compression;
//    "monolithicSparse" otherwise for a sparse image (its embedded
//    descriptor's createType and extent lines are not read);
//  - cid / parent cid: the descriptor's CID and parentCID, as qemu's
//    sscanf reads them;
//  - backing file: the parentFileNameHint value, bytes as found (an empty
//    one is no backing file); the backing format is then "vmdk", which
//    qemu assumes;
//  - virtual size: the sum of the extents' sizes: FLAT and VMFS from the
//    descriptor line, the others from their file's header;
//  - cluster size: the first extent's grain, when every extent has the
//    same grain and compression and none is flat; when they differ in
//    kind, qemu has no block-driver info at all (abi::kVmdkMixedExtents);
//  - extent file name: as the descriptor names it; qemu shows the path it
//    opened, which the renderer derives (qemu_path_combine). For a sparse
//    image the name and format are empty: qemu shows the image's own path
//    as the user typed it.
Status vmdk_read_info(ImageSource& src, Arena& arena, VmdkExtentFiles& extent_files, RecordSink& records,
                      abi::InfoResult& out);

}  // namespace instar::formats
