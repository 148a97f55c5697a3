// The canary the guest's stack protector checks (abi::GuestThreadBlock):
// fresh for every run, so an image cannot be crafted around it.
#pragma once

#include <cstdint>

namespace instar {

// Eight random bytes from the kernel, the lowest 0 (as glibc makes its own
// canary, so that a string overflow cannot copy it). Throws Error when the
// kernel gives none.
uint64_t new_stack_guard();

}  // namespace instar
