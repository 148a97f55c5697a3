// The guest binaries built into the executable (generated table, see
// src/guest/CMakeLists.txt).
#pragma once

namespace instar {

struct EmbeddedGuest {
    const char* name;
    const unsigned char* begin;
    const unsigned char* end;
};

extern const EmbeddedGuest kEmbeddedGuests[];
extern const unsigned kEmbeddedGuestCount;

}  // namespace instar
