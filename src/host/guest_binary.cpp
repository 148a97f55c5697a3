#include "host/guest_binary.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "host/embedded_guests.h"
#include "host/error.h"

namespace instar {

std::vector<uint8_t> load_guest_binary(const std::string& op_name) {
#ifdef INSTAR_TEST_HOOKS
    if (const char* dir = std::getenv("INSTAR_GUEST_DIR"); dir && *dir) {
        std::string path = std::string(dir) + "/" + op_name + ".bin";
        std::ifstream f(path, std::ios::binary);
        if (!f) throw_errno("cannot open guest binary '" + path + "'", errno);
        return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
    }
#endif
    for (unsigned i = 0; i < kEmbeddedGuestCount; ++i)
        if (op_name == kEmbeddedGuests[i].name)
            return std::vector<uint8_t>(kEmbeddedGuests[i].begin, kEmbeddedGuests[i].end);
    throw Error("no guest binary for operation '" + op_name + "'");
}

}  // namespace instar
