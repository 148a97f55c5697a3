// The first bytes of every flat guest binary, placed there by the guest's
// linker script. They tell the host how to map the image: the loader gives
// each part exactly the permissions it needs and no more.
//
//   [kImageBase, rodata_end)   header + read-only data   read, no-execute
//   [rodata_end, text_end)     code                      read + execute
//   [text_end, bss_end)        data + bss                read + write, no-execute
//
// The file holds bytes up to data_end; bss beyond it is zero-filled.
#pragma once

#include <stdint.h>

namespace instar::abi {

// Macros as well as constants: the guest's linker script writes the header,
// and it can only see these as assembler symbols (see guest/image_header.cpp).
#define INSTAR_IMAGE_MAGIC 0x47525349 /* "ISRG" */
inline constexpr uint32_t kImageMagic = INSTAR_IMAGE_MAGIC;

struct GuestImageHeader {
    uint32_t magic;
    uint32_t abi_version;
    uint32_t op;  // OpId the binary implements
    uint32_t reserved;
    uint64_t entry;  // guest-physical entry point
    uint64_t rodata_end;
    uint64_t text_end;
    uint64_t data_end;
    uint64_t bss_end;
};
static_assert(sizeof(GuestImageHeader) == 56);

}  // namespace instar::abi
