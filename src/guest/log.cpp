#include "guest/log.h"

#include "guest/hypercall.h"
#include "guest/libc.h"

namespace instar::guest {
namespace {
bool g_verbose = false;
}

void set_verbose(bool on) { g_verbose = on; }
bool verbose() { return g_verbose; }
void send_log_text(const char* text, size_t len) { send_log(text, len); }
void log(const char* text) {
    if (g_verbose) send_log(text, strlen(text));
}

}  // namespace instar::guest
