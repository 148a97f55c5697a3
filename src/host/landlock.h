// A second wall beside seccomp, where the kernel has Landlock: once every
// file a guest run needs is open, the process (and every thread it starts
// afterwards) may open, create, link, rename or remove no file at all, by
// any path. Files already open keep working.
#pragma once

namespace instar {

// The Landlock ABI version the kernel offers, 0 where it has none.
int landlock_abi_version();

// Restricts the calling thread and its future threads to the files they
// already have open (a ruleset that handles every access right the kernel
// knows and grants none; TCP, abstract sockets and signals to other
// processes too, where the ABI has them). Sets no_new_privs, which Landlock
// requires. Returns false, doing nothing, where the kernel lacks Landlock;
// throws Error if a kernel that has it refuses.
bool restrict_to_open_files();

}  // namespace instar
