#include "formats/vhdx/vhdx_write_log.h"

#include "formats/common/endian.h"
#include "formats/vhdx/vhdx_structs.h"

namespace instar::formats::vhdx {

void build_bat_log_entry(const LogEntrySpec& spec, const uint8_t* sector, uint8_t* out) {
    // qemu builds the entry in a buffer it does not clear; what follows the
    // descriptor in the header sector has always read back as zeroes.
    __builtin_memset(out, 0, kBatLogEntryBytes);
    uint8_t* h = out;
    __builtin_memcpy(h + kLeSignature, kLogEntrySignature, sizeof kLogEntrySignature);
    store_le32(h + kLeEntryLength, kBatLogEntryBytes);
    store_le32(h + kLeTail, spec.tail);
    store_le64(h + kLeSequence, spec.sequence);
    store_le32(h + kLeDescriptorCount, 1);
    __builtin_memcpy(h + kLeLogGuid, spec.log_guid, kGuidSize);
    store_le64(h + kLeFlushedFileOffset, spec.file_length);
    store_le64(h + kLeLastFileOffset, spec.file_length);

    uint8_t* d = h + kLogEntryHeaderSize;
    __builtin_memcpy(d + kLdSignature, kLogDescSignature, sizeof kLogDescSignature);
    __builtin_memcpy(d + kLdTrailingBytes, sector + kLogSectorSize - kLogTrailingBytes, kLogTrailingBytes);
    __builtin_memcpy(d + kLdLeadingBytes, sector, kLogLeadingBytes);
    store_le64(d + kLdFileOffset, spec.target);
    store_le64(d + kLdSequence, spec.sequence);

    uint8_t* s = out + kLogSectorSize;
    __builtin_memcpy(s + kLdsSignature, kLogDataSignature, sizeof kLogDataSignature);
    store_le32(s + kLdsSequenceHigh, uint32_t(spec.sequence >> 32));
    __builtin_memcpy(s + kLdsData, sector + kLogLeadingBytes, kLogSectorSize - kLogLeadingBytes - kLogTrailingBytes);
    store_le32(s + kLdsSequenceLow, uint32_t(spec.sequence));

    // The checksum runs over the whole entry, its own field as zero.
    store_le32(h + kLeChecksum, block_checksum(out, kBatLogEntryBytes, kBatLogEntryBytes, kLeChecksum));
}

}  // namespace instar::formats::vhdx
