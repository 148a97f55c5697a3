// The host's checks on what the guest answered to `info`: every count,
// length, enum and flag of an abi::InfoResult must be one a real image can
// give in qemu-img 7.2, before anything is rendered from it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "abi/ops/create.h"
#include "abi/ops/info.h"
#include "host/guest_run.h"
#include "image/info_model.h"

namespace instar::image {

// The lists the `info` guest may send as records (GuestRun::record_kinds),
// at these indexes of GuestOutput::records.
enum InfoRecordList : size_t { kInfoSnapshotList, kInfoExtentList, kInfoExtentFileList, kInfoBitmapList };
std::vector<RecordKind> info_record_kinds();

// A first answer with abi::kInfoNeedsExtentFiles: the names of the vmdk
// extent files to attach, checked (validate_vmdk_extent_files).
std::vector<std::string> accept_extent_file_request(const GuestOutput& output);

// The final answer for one image, checked as below: the result struct
// (its exact size), the extents in the files attached (`extent_files`,
// the names accept_extent_file_request gave; nullptr when none were), no
// extent file names, the snapshot, extent and bitmap records, the format
// asked for (none: any). `image` brings the host's own facts (filename,
// actual_size); its info, lists and encryption are filled from the
// answer. Throws instar::Error naming what is wrong.
CheckedInfoImage accept_info_output(const GuestOutput& output, abi::Format requested,
                                    const std::vector<std::string>* extent_files, InfoImage image);

// Every check of an InfoImage (the result, each list against it, the
// encryption details against what the result says): the one way to make
// the CheckedInfoImage the renderers take. Throws like the above.
CheckedInfoImage check_info_image(InfoImage image);

// Throws instar::Error with one line naming the first field out of range.
void validate_info_result(const abi::InfoResult& info);

// The snapshot records that came with a validated `info`: as many as it
// counts, each field in range. Throws like the above.
void validate_info_snapshots(const abi::InfoResult& info, const std::vector<abi::InfoSnapshot>& snapshots);

// The vmdk extent records that came with a validated `info` (none for
// other formats): as many as it counts, each one a vmdk file can have, and
// agreeing with the image's size, cluster size and create type.
void validate_info_vmdk_extents(const abi::InfoResult& info, const std::vector<abi::InfoVmdkExtent>& extents);

// A first answer for a vmdk descriptor (abi::kInfoNeedsExtentFiles): the
// names of the files to attach, each one qemu could read from an extent
// line (1 to 511 bytes, no NUL, CR, LF or '"'). A descriptor naming more
// than abi::kInfoMaxVmdkExtents files is refused with a message saying so.
std::vector<std::string> validate_vmdk_extent_files(const abi::InfoResult& info,
                                                    const std::vector<abi::InfoVmdkExtentFile>& files);

// The extents of the second answer are those files, in order.
void validate_vmdk_extent_names(const std::vector<abi::InfoVmdkExtent>& extents,
                                const std::vector<std::string>& names);

// The same for the LUKS/AES details shown under "encrypt:".
void validate_qcow2_encryption(const Qcow2Encryption& enc);

// The bitmap records that came with a validated qcow2 `info`: as many as
// it counts, each with known flags, a granularity qemu allows and a name
// within its bound. Throws like the above.
void validate_info_bitmaps(const abi::InfoResult& info, const std::vector<abi::InfoBitmap>& bitmaps);

// What a validated result says qemu shows under "encrypt:" (qemu's names
// for the LUKS algorithms), or nothing for an unencrypted image.
std::optional<Qcow2Encryption> qcow2_encryption_of(const abi::InfoResult& info);

}  // namespace instar::image
