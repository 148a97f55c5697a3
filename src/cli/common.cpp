#include "cli/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <iostream>

#include "host/error.h"

namespace instar::cli {

void add_sandbox_options(CLI::App& command, SandboxOptions& options) {
    command.add_option("--timeout", options.timeout_seconds, "Seconds the sandboxed guest may run (default 60)")
        ->check(CLI::Range(0.001, 86400.0));
    command.add_flag("-v,--verbose", options.verbose, "Show the guest's log lines on stderr");
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

InputFile open_input(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open '" + path + "'", errno);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        throw_errno("cannot open '" + path + "'", e);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        throw Error("cannot open '" + path + "': Is a directory");
    }
    uint64_t size = uint64_t(st.st_size);
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        size = end > 0 ? uint64_t(end) : 0;
    }
    return InputFile{fd, size};
}

}  // namespace instar::cli
