#include "host/landlock.h"

#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "host/error.h"

namespace instar {
namespace {

// The build's <linux/landlock.h> may be older than the running kernel: the
// rights added after ABI 1 are spelt out here, with the ABI that added them.
// The kernel refuses bits it does not know, so each is set only where the
// running kernel's ABI has it.
struct RulesetAttr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;  // ABI 4
    uint64_t scoped;              // ABI 6
};

constexpr uint64_t kFsAbi1 = (1ull << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ull << 13;       // ABI 2
constexpr uint64_t kFsTruncate = 1ull << 14;    // ABI 3
constexpr uint64_t kFsIoctlDev = 1ull << 15;    // ABI 5
constexpr uint64_t kNetBindTcp = 1ull << 0, kNetConnectTcp = 1ull << 1;              // ABI 4
constexpr uint64_t kScopeAbstractUnixSocket = 1ull << 0, kScopeSignal = 1ull << 1;  // ABI 6

long create_ruleset(const RulesetAttr* attr, size_t size, uint32_t flags) {
    return syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

// Where Landlock is missing: not built in (ENOSYS), built in but not
// enabled at boot (EOPNOTSUPP), or a container's own seccomp policy hiding
// the call (EPERM). seccomp still confines the process there.
bool unavailable(int e) { return e == ENOSYS || e == EOPNOTSUPP || e == EPERM; }

}  // namespace

int landlock_abi_version() {
    long v = create_ruleset(nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v > 0 ? int(v) : 0;
}

bool restrict_to_open_files() {
    long abi = create_ruleset(nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0) {
        if (unavailable(errno)) return false;
        throw_errno("cannot query Landlock", errno);
    }
    if (abi == 0) return false;

    RulesetAttr attr{kFsAbi1, 0, 0};
    if (abi >= 2) attr.handled_access_fs |= kFsRefer;
    if (abi >= 3) attr.handled_access_fs |= kFsTruncate;
    if (abi >= 5) attr.handled_access_fs |= kFsIoctlDev;
    if (abi >= 4) attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    if (abi >= 6) attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    // Pass the struct only as far as this ABI defines it.
    size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? offsetof(RulesetAttr, scoped)
                                                    : offsetof(RulesetAttr, handled_access_net);

    long fd = create_ruleset(&attr, size, 0);
    if (fd < 0) {
        if (unavailable(errno)) return false;
        throw_errno("cannot create the Landlock ruleset", errno);
    }
    // No rules: nothing is granted, so only files already open can be used.
    bool ok = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
              syscall(SYS_landlock_restrict_self, int(fd), 0u) == 0;
    int e = errno;
    close(int(fd));
    if (!ok) throw_errno("cannot apply the Landlock ruleset", e);
    return true;
}

}  // namespace instar
