#include "cli/create_identity.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "host/error.h"

namespace instar::cli {
namespace {

uint64_t fnv1a(const void* data, size_t len, uint64_t h = 0xcbf29ce484222325ull) {
    auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

void fill_identity(abi::CreateRequest& request, bool deterministic) {
    const char* epoch = std::getenv("SOURCE_DATE_EPOCH");
    if (epoch && *epoch) deterministic = true;
    std::memset(request.entropy, 0, sizeof request.entropy);
    if (deterministic) {
        request.timestamp = epoch && *epoch ? std::strtoull(epoch, nullptr, 10) : 0;
        uint64_t state = fnv1a(&request, sizeof request);
        for (size_t i = 0; i < sizeof request.entropy; i += 8) {
            uint64_t v = splitmix64(state);
            std::memcpy(request.entropy + i, &v, 8);
        }
        return;
    }
    request.timestamp = uint64_t(std::time(nullptr));
    size_t got = 0;
    while (got < sizeof request.entropy) {
        ssize_t n = getrandom(request.entropy + got, sizeof request.entropy - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot read random bytes", errno);
        got += size_t(n);
    }
}

}  // namespace instar::cli
