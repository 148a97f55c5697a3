// Runs the real qemu-img 7.2 in a scratch directory, and instar's create
// command-line layer on the same arguments, so tests compare the two.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/create_args.h"
#include "cli/create_options.h"
#include "cli/formatting_line.h"
#include "host/error.h"

namespace instar::cli::testing {

inline bool qemu_img_available() { return std::system("qemu-img --version >/dev/null 2>&1") == 0; }

#define INSTAR_REQUIRE_QEMU_IMG()                                                          \
    do {                                                                                   \
        if (!::instar::cli::testing::qemu_img_available())                                 \
            GTEST_SKIP() << "qemu-img not installed (CI installs qemu-utils); reference " \
                            "behaviour cannot be generated";                              \
    } while (0)

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

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// What a run printed: stdout, the warnings and the first error line, each
// without the program's "PROGRAM: " prefix.
struct Outcome {
    int rc = 0;
    std::string out;
    std::vector<std::string> warnings;
    std::string error;
};

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    os << "rc=" << o.rc << " out=[" << o.out << "] error=[" << o.error << "] warnings=[";
    for (const auto& w : o.warnings) os << w << ";";
    return os << "]";
}

class ScratchDir {
public:
    ScratchDir() {
        char tmpl[] = "/tmp/instar-cli-test-XXXXXX";
        char* d = mkdtemp(tmpl);
        if (d) path_ = d;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

    // Deletes what a run left, keeping the named files (backing images).
    void clean_except(const std::vector<std::string>& keep) const {
        for (const auto& e : std::filesystem::directory_iterator(path_)) {
            std::string name = e.path().filename().string();
            bool kept = false;
            for (const auto& k : keep) kept = kept || k == name;
            if (!kept && name != "out" && name != "err") std::filesystem::remove_all(e.path());
        }
    }

private:
    std::filesystem::path path_;
};

// qemu-img create ARGS, run inside `dir`.
inline Outcome run_qemu_img_create(const ScratchDir& dir, const std::vector<std::string>& args) {
    std::string cmd = "cd " + shell_quote(dir.path().string()) + " && qemu-img create";
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >out 2>err </dev/null";
    Outcome o;
    int status = std::system(cmd.c_str());
    o.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = read_file(dir.path() / "out");
    std::istringstream err(read_file(dir.path() / "err"));
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(err, line)) lines.push_back(line);
    const std::string prefix = "qemu-img: ";
    const std::string warn = "qemu-img: warning: ";
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].rfind(warn, 0) == 0) {
            o.warnings.push_back(lines[i].substr(warn.size()));
            continue;
        }
        if (o.error.empty() && lines[i].rfind(prefix, 0) == 0) {
            o.error = lines[i].substr(prefix.size());
            // The one message qemu-img splits over two "qemu-img: " lines.
            if (i + 1 < lines.size() && lines[i + 1].rfind(prefix, 0) == 0 &&
                o.error.rfind("Invalid image size specified. You may use", 0) == 0) {
                o.error += " " + lines[i + 1].substr(prefix.size());
            }
        }
    }
    return o;
}

// A backing-file probe answering from a table of files the test made.
inline BackingProbe table_probe(std::map<std::string, uint64_t> sizes) {
    return [sizes](const BackingQuery& q) -> uint64_t {
        auto it = sizes.find(q.path);
        if (it == sizes.end()) throw Error("Could not open '" + q.path + "': No such file or directory");
        return it->second;
    };
}

// instar's layer on the same arguments, printing what the CLI would.
inline Outcome run_instar_create(const std::vector<std::string>& args, const BackingProbe& probe,
                                 ResolvedCreate* resolved = nullptr) {
    Outcome o;
    try {
        CreateArgs a = parse_create_args(args);
        if (auto help = create_help_text(a)) {
            o.out = *help;
            return o;
        }
        CreatePlan plan = plan_create(a, probe, o.warnings);
        if (!a.quiet) o.out = formatting_line(plan) + "\n";
        o.warnings.insert(o.warnings.end(), plan.driver_warnings.begin(), plan.driver_warnings.end());
        ResolvedCreate r = resolve_create(plan);
        if (resolved) *resolved = r;
    } catch (const Error& e) {
        o.rc = 1;
        o.error = e.what();
    }
    return o;
}

}  // namespace instar::cli::testing
