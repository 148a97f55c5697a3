// Log lines for --verbose. Dropped in the guest when the host did not ask
// for them, so a quiet run costs no exits.
#pragma once

#include <stddef.h>

#include "guest/text.h"

namespace instar::guest {

void set_verbose(bool on);
bool verbose();
void log(const char* text);
void send_log_text(const char* text, size_t len);

template <size_t N>
void log(const Text<N>& text) {
    if (verbose()) send_log_text(text.data(), text.size());
}

}  // namespace instar::guest
