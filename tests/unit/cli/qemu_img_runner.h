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
#include "support/files.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace instar::cli::testing {

using ::instar::testing::read_text;
using ::instar::testing::shell_quote;
using ::instar::testing::TempDir;

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

// qemu-img create ARGS, run inside `dir`.
inline Outcome run_qemu_img_create(const TempDir& dir, const std::vector<std::string>& args) {
    std::string cmd = "cd " + shell_quote(dir.path()) + " && qemu-img create";
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >out 2>err </dev/null";
    Outcome o;
    int status = std::system(cmd.c_str());
    o.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = read_text(dir.file("out"));
    std::istringstream err(read_text(dir.file("err")));
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
