// The other half of the stack protector that Debian built its zlib and
// zstd with (-fstack-protector-strong): a protected function that finds its
// canary (at %fs:0x28, abi::GuestThreadBlock) overwritten when it returns
// calls this instead of returning into whatever overwrote it. The guest's
// own code is built without the protector; this only ever fires inside the
// libraries, on a stack overflow a crafted stream caused.
#include "guest/hypercall.h"

extern "C" [[noreturn]] void __stack_chk_fail() {
    instar::guest::fail(instar::abi::GuestError::internal, "stack smashing detected");
}
