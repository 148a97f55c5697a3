// Common to every fuzz target: how a broken invariant ends the run.
#pragma once

#include <cstdio>

namespace instar::fuzz {

// A finding that is not a sanitizer report: print which invariant broke and
// die the way libFuzzer records as a crash (the input is saved).
[[noreturn]] inline void invariant_failed(const char* what) {
    std::fprintf(stderr, "\n==instar-fuzz== invariant broken: %s\n", what);
    std::fflush(stderr);
    __builtin_trap();
}

inline void require(const char* failure) {
    if (failure) invariant_failed(failure);
}

}  // namespace instar::fuzz
