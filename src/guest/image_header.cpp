// Exposes the ABI's image constants to the linker script, which writes the
// GuestImageHeader at the start of every guest binary.
#include "abi/boot_config.h"
#include "abi/guest_image.h"

#define INSTAR_STR2(x) #x
#define INSTAR_STR(x) INSTAR_STR2(x)

asm(".globl instar_image_magic\n.set instar_image_magic, " INSTAR_STR(INSTAR_IMAGE_MAGIC) "\n"
    ".globl instar_abi_version\n.set instar_abi_version, " INSTAR_STR(INSTAR_ABI_VERSION) "\n");
