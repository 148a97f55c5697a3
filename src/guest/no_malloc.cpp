// The C allocator, which the guest does not have: its one allocator is the
// bump arena, and format code hands the libraries their memory explicitly
// (formats/common/compression.h). zlib's and zstd's objects still name
// malloc, calloc and free, on paths the format code never takes: zlib's
// default allocator (every stream gets one of ours), zstd's default one
// (every context is static, in a workspace of ours), and zstd's legacy
// (pre-1.0) decoders, which a static context refuses before they allocate.
// Reaching one of them is a bug in that reasoning: fail loudly rather than
// hand out memory no one accounts for.
#include <stddef.h>

#include "guest/hypercall.h"

extern "C" {

void* malloc(size_t) { instar::guest::fail(instar::abi::GuestError::internal, "malloc called"); }
void* calloc(size_t, size_t) { instar::guest::fail(instar::abi::GuestError::internal, "calloc called"); }
// free(NULL) does nothing in C; nothing else can come here, as nothing was
// ever allocated.
void free(void* p) {
    if (p) instar::guest::fail(instar::abi::GuestError::internal, "free called");
}

}  // extern "C"
