#include "host/sandbox_kind.h"

#include <cstdlib>
#include <cstring>

#include "host/error.h"

namespace instar {

SandboxKind sandbox_kind() {
    const char* v = std::getenv(kSandboxVariable);
    if (!v || !*v || std::strcmp(v, "kvm") == 0) return SandboxKind::kvm;
    if (std::strcmp(v, "process") == 0) return SandboxKind::process;
    throw Error(std::string(kSandboxVariable) + " must be kvm or process");
}

const char* sandbox_name(SandboxKind kind) { return kind == SandboxKind::process ? "process" : "kvm"; }

}  // namespace instar
