#include "cli/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "host/error.h"

namespace instar::cli {

void add_sandbox_options(CLI::App& command, SandboxOptions& options) {
    command.add_option("--timeout", options.timeout_seconds, "Seconds the sandboxed guest may run (default 60)")
        ->check(CLI::Range(kMinTimeoutSeconds, kMaxTimeoutSeconds));
    command.add_flag("-v,--verbose", options.verbose, "Show the guest's log lines on stderr");
}

SandboxOptions take_sandbox_options(std::vector<std::string>& args) {
    SandboxOptions o;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            rest.insert(rest.end(), args.begin() + long(i), args.end());
            break;
        }
        if (a == "-v" || a == "--verbose") {
            o.verbose = true;
        } else if (a == "--timeout" || a.rfind("--timeout=", 0) == 0) {
            std::string v = a == "--timeout" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(10);
            char* end = nullptr;
            double t = std::strtod(v.c_str(), &end);
            if (v.empty() || *end || !(t >= kMinTimeoutSeconds && t <= kMaxTimeoutSeconds))
                throw Error("invalid --timeout '" + v + "'");
            o.timeout_seconds = t;
            o.timeout_given = true;
        } else {
            rest.push_back(a);
        }
    }
    args = rest;
    return o;
}

GuestRun make_guest_run(const SandboxOptions& options, abi::OpId op, const std::string& op_name) {
    GuestRun run;
    run.op = op;
    run.op_name = op_name;
    run.timeout = std::chrono::milliseconds(int64_t(std::ceil(options.timeout_seconds * 1000)));
    run.verbose = options.verbose;
    run.on_log = [](const std::string& line) { std::cerr << "instar: guest: " << line << "\n"; };
    return run;
}

}  // namespace instar::cli
