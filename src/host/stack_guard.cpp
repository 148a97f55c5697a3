#include "host/stack_guard.h"

#include <sys/random.h>

#include <cerrno>
#include <cstddef>

#include "host/error.h"

namespace instar {

uint64_t new_stack_guard() {
    uint64_t v = 0;
    auto* p = reinterpret_cast<unsigned char*>(&v);
    for (size_t got = 0; got < sizeof v;) {
        const ssize_t n = getrandom(p + got, sizeof v - got, 0);
        if (n < 0 && errno != EINTR) throw_errno("cannot get random bytes", errno);
        if (n > 0) got += size_t(n);
    }
    return v & ~uint64_t(0xff);
}

}  // namespace instar
