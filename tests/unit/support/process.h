// Shared by the cli and formats tests: quoting for the shell, running a
// command, finding qemu-img and qemu-io (the reference these tests compare
// against) and asking qemu-img info for its JSON.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

namespace instar::testing {

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

struct CommandResult {
    int status = -1;     // exit code, or -1 when it did not run or exit normally
    std::string output;  // stdout, and stderr unless discarded
};

enum class Stderr { merge, discard };

inline CommandResult run_command(const std::string& cmd, Stderr err = Stderr::merge) {
    CommandResult r;
    FILE* p = popen((cmd + (err == Stderr::merge ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

// qemu-img times LUKS key derivation by thread CPU time and gives up
// ("Unable to get accurate CPU usage") when that time reads 0 ms: thread
// time advances by scheduler ticks here, so a short first measurement
// often does. qemu-img's flake, not the test's: every test command that
// may ask qemu-img for LUKS goes through here (one creation per command,
// so only the one that met it runs again): `attempt()` runs it and returns
// its result with what it printed on stderr; a failure for that one
// reason is tried again (up to twenty times: each failing try takes
// milliseconds), any other result is final.
template <typename Attempt>
CommandResult retry_qemu_luks_timing(Attempt attempt) {
    CommandResult r;
    for (int i = 0; i < 20; ++i) {
        std::string stderr_text;
        r = attempt(stderr_text);
        if (r.status == 0 || stderr_text.find("Unable to get accurate CPU usage") == std::string::npos) break;
    }
    return r;
}

// A shell command whose stderr is merged into its output, tried again on
// qemu-img's LUKS timing failure.
inline CommandResult run_qemu_command(const std::string& cmd) {
    return retry_qemu_luks_timing([&](std::string& err) {
        CommandResult r = run_command(cmd);
        err = r.output;
        return r;
    });
}

// /usr/bin/NAME (qemu-utils 7.2 on CI), else NAME on PATH, else empty.
inline std::string find_tool(const char* name) {
    std::string fixed = std::string("/usr/bin/") + name;
    if (access(fixed.c_str(), X_OK) == 0) return fixed;
    std::string cmd = std::string("command -v ") + name + " 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return {};
    char buf[512] = {};
    std::string out = fgets(buf, sizeof buf, p) ? buf : "";
    pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

inline const std::string& qemu_img() {
    static const std::string path = find_tool("qemu-img");
    return path;
}

inline const std::string& qemu_io() {
    static const std::string path = find_tool("qemu-io");
    return path;
}

#define INSTAR_REQUIRE_QEMU_IMG()                                                                \
    do {                                                                                         \
        if (::instar::testing::qemu_img().empty())                                               \
            GTEST_SKIP() << "qemu-img not installed: it is the reference these tests compare " \
                            "against (CI installs qemu-utils)";                                 \
    } while (0)

#define INSTAR_REQUIRE_QEMU_IMG_AND_IO()                                                      \
    do {                                                                                      \
        if (::instar::testing::qemu_img().empty() || ::instar::testing::qemu_io().empty())    \
            GTEST_SKIP() << "qemu-img/qemu-io not installed (CI installs qemu-utils)";        \
    } while (0)

// A number qemu-img info prints, `"KEY": N`, wherever it stands.
inline bool json_number(const std::string& json, const std::string& key, uint64_t& v) {
    const std::string k = "\"" + key + "\": ";
    const size_t p = json.find(k);
    if (p == std::string::npos) return false;
    v = std::strtoull(json.c_str() + p + k.size(), nullptr, 10);
    return true;
}

// `qemu-img info -f FMT --output=json [EXTRA] PATH`: ok when it opened the
// file and printed a JSON object.
struct QemuJson {
    int status = -1;
    bool ok = false;
    nlohmann::json json;
    std::string text;  // what it printed
};

inline QemuJson qemu_info_json(const std::string& path, const std::string& fmt, const std::string& extra = "",
                               Stderr err = Stderr::merge) {
    CommandResult r = run_command(qemu_img() + " info -f " + fmt + " --output=json " +
                                      (extra.empty() ? "" : extra + " ") + shell_quote(path),
                                  err);
    QemuJson q{r.status, r.status == 0, {}, r.output};
    if (q.ok) {
        q.json = nlohmann::json::parse(r.output, nullptr, /*allow_exceptions=*/false);
        if (!q.json.is_object()) q.ok = false;
    }
    return q;
}

}  // namespace instar::testing
