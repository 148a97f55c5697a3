#include "cli/copy.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "abi/ops/copy.h"
#include "abi/virtio.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "host/error.h"
#include "host/interrupt.h"
#include "host/output_file.h"

namespace instar::cli {
namespace {

// Output writes go in blocks of this size; the device refuses anything else.
constexpr uint32_t kCopyOutputBlock = 65536;
constexpr uint64_t kCopyIoThreadMinBytes = 64ull << 20;

struct CopyArgs {
    std::string input, output;
    bool progress = false;
    SandboxOptions sandbox;
};

void run_copy(const CopyArgs& args) {
    // A signal from here on stops the guest and discards the output.
    InterruptHandling interrupts("copy");
    InputFile in = open_input(args.input);
    OutputFile out(args.output);

    GuestRun run = make_guest_run(args.sandbox, abi::OpId::copy, "copy");
    run.inputs.push_back(Disk{in.fd(), in.size(), in.size(), abi::virtio::kSectorSize});
    uint64_t capacity = (in.size() + kCopyOutputBlock - 1) / kCopyOutputBlock * kCopyOutputBlock;
    run.output = Disk{out.fd(), in.size(), capacity, kCopyOutputBlock};
    // The output is written on an I/O thread while the guest reads the next
    // batch, as qemu-img convert overlaps its reads and writes; below a few
    // batches the thread's start costs more than the overlap saves.
    run.output->io_thread = in.size() >= kCopyIoThreadMinBytes;
    ProgressPrinter progress(args.progress);
    run.on_progress = [&](uint64_t done, uint64_t total) { progress.update(done, total); };

    // The guest runs in a sandboxed child; this process relays its progress
    // and, once the result checks out, puts the output in place.
    auto result = run_guest_in_child(run).result_as<abi::CopyResult>("copy");
    if (result.bytes_copied != in.size() || result.output_size != in.size())
        throw Error("guest misbehaved: copy result does not match the input");
    out.commit(result.output_size);
    progress.finish();
}

}  // namespace

void add_copy_command(CLI::App& app) {
    auto args = std::make_shared<CopyArgs>();
    CLI::App* cmd = app.add_subcommand("copy", "Copy INPUT's bytes to OUTPUT through the sandbox (sparse output)");
    cmd->add_option("INPUT", args->input, "File to read")->required();
    cmd->add_option("OUTPUT", args->output, "File to write (replaced)")->required();
    cmd->add_flag("-p", args->progress, "Show progress");
    add_sandbox_options(*cmd, args->sandbox);
    cmd->callback([args] { run_copy(*args); });
}

}  // namespace instar::cli
