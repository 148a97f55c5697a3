// Which sandbox runs the guests (ARCHITECTURE.md, "Sandboxes"): the KVM
// micro-VM, or, where a host has no usable /dev/kvm and the operator says
// so, the op process. Chosen by the environment (INSTAR_SANDBOX=kvm|process,
// kvm when unset), because instar is run in qemu-img's place by programs
// that pass only qemu-img's options.
#pragma once

#include <string>

namespace instar {

enum class SandboxKind { kvm, process };

inline constexpr const char* kSandboxVariable = "INSTAR_SANDBOX";

// Throws Error for a value that names no sandbox.
SandboxKind sandbox_kind();

// The name, as INSTAR_SANDBOX spells it.
const char* sandbox_name(SandboxKind kind);

}  // namespace instar
