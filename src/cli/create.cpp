#include "cli/create.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "abi/format.h"
#include "abi/ops/create.h"
#include "abi/ops/probe.h"
#include "cli/common.h"
#include "cli/create_args.h"
#include "cli/create_identity.h"
#include "cli/create_options.h"
#include "cli/formatting_line.h"
#include "host/confined_open.h"
#include "host/error.h"
#include "host/guest_fault.h"
#include "host/interrupt.h"
#include "host/output_file.h"
#include "host/raw_file.h"

namespace instar::cli {
namespace {

constexpr const char* kUsage =
    "Usage: instar create [OPTIONS] FILENAME [SIZE]\n"
    "\n"
    "Create a disk image, as qemu-img create does. Options:\n"
    "  -f, --format FMT          raw (default), qcow2, vmdk, vpc, vhdx\n"
    "  -o, --option KEY=VAL,...  qemu-img format options; -o help lists them\n"
    "  -b, --backing PATH        backing file (qcow2, vmdk)\n"
    "  -F, --backing-format FMT  backing file format\n"
    "  -u, --backing-unsafe      do not open the backing file\n"
    "  -q, --quiet               no output on success\n"
    "  --output human|json       result rendering\n"
    "  --sector-size N           output device block size, 512..65536\n"
    "  --cluster-size N, --refcount-bits N, --extended-l2, --lazy-refcounts, --compat 0.10|1.1   (qcow2)\n"
    "  --subformat NAME, --grain-size N (vmdk), --block-size N (vpc, vhdx), --preallocation MODE\n"
    "  --deterministic           derive UUIDs and timestamps reproducibly\n"
    "  --timeout SECONDS, -v     sandbox deadline, guest log\n";

// The backing file's virtual size, read in a sandboxed child (this process
// still has to create the image afterwards).
uint64_t probe_backing(const BackingQuery& q, const SandboxOptions& sandbox) {
    InputFile in;
    try {
        in = open_input(q.path);
    } catch (const Error&) {
        throw Error("Could not open '" + q.path + "': " + std::strerror(errno ? errno : ENOENT));
    }
    GuestRun run = make_guest_run(sandbox, abi::OpId::probe, "probe");
    run.inputs.push_back(Disk{in.fd(), in.size(), in.size(), 512});
    abi::ProbeRequest req{uint32_t(q.format), 0};
    run.op_config.assign(reinterpret_cast<uint8_t*>(&req), reinterpret_cast<uint8_t*>(&req) + sizeof req);
    GuestOutput output;
    try {
        output = run_guest_in_child(run);
    } catch (const GuestFailed& e) {
        if (e.code() == abi::GuestError::image_format_mismatch)
            throw Error(std::string("Image is not in ") + abi::format_name(q.format) + " format");
        throw Error("Could not open backing image: " + std::string(e.what()));
    }
    auto r = output.result_as<abi::ProbeResult>("probe");
    if (r.format == uint32_t(abi::Format::none) || r.format > uint32_t(abi::Format::vhdx))
        throw Error("guest misbehaved: probe result names no format");
    if (q.format != abi::Format::none && r.format != uint32_t(q.format))
        throw Error("guest misbehaved: probe result contradicts the requested format");
    if (r.virtual_size > uint64_t(INT64_MAX)) throw Error("guest misbehaved: probe result size is out of range");
    return r.virtual_size;
}

abi::CreateResult create_raw(const ResolvedCreate& r, OutputFile& out) {
    const uint64_t size = r.request.size;
    create_raw_file(out.fd(), size, abi::Preallocation(r.request.preallocation), out.target());
    return abi::CreateResult{size, 0, size, 0};
}

abi::CreateResult create_in_guest(ResolvedCreate& r, OutputFile& out, const SandboxOptions& sandbox,
                                   bool deterministic) {
    fill_identity(r.request, deterministic);
    GuestRun run = make_guest_run(sandbox, abi::OpId::create, "create");
    InputFile backing;
    if (r.attach_backing) {
        backing = open_input(r.backing_path);
        run.inputs.push_back(Disk{backing.fd(), backing.size(), backing.size(), 512});
        r.request.flags |= abi::kCreateBackingAttached;
    }
    const uint64_t block = r.sector_size;
    uint64_t capacity = r.request.size + r.request.size / 4 + (256ull << 20);
    capacity = (capacity + block - 1) / block * block;
    run.output = Disk{out.fd(), 0, capacity, r.sector_size,
                      r.request.preallocation == uint32_t(abi::Preallocation::full)};
    run.op_config.assign(reinterpret_cast<const uint8_t*>(&r.request),
                         reinterpret_cast<const uint8_t*>(&r.request) + sizeof r.request);

    GuestOutput output;
    try {
        output = run_guest_in_child(run);
    } catch (const GuestFailed& e) {
        throw Error(out.target() + ": " + e.what());
    }
    auto result = output.result_as<abi::CreateResult>("create");
    bool unit_ok = result.resolved_unit_size == 0 ||
                   (result.resolved_unit_size & (result.resolved_unit_size - 1)) == 0;
    if (result.file_size_after > capacity || !unit_ok || result.virtual_size > uint64_t(INT64_MAX))
        throw Error("guest misbehaved: create result is out of range");
    return result;
}

void print_json(const std::string& absolute_filename, const std::string& format, const abi::CreateResult& r) {
    nlohmann::ordered_json j;
    j["filename"] = absolute_filename;
    j["format"] = format;
    j["virtual_size"] = r.virtual_size;
    j["metadata_bytes_written"] = r.metadata_bytes_written;
    j["file_size_after"] = r.file_size_after;
    j["resolved_unit_size"] = r.resolved_unit_size;
    std::cout << j.dump(4) << "\n";
}

void run_create(std::vector<std::string> raw) {
    SandboxOptions sandbox = take_sandbox_options(raw);
    CreateArgs args = parse_create_args(raw);
    if (args.help) {
        std::cout << kUsage;
        return;
    }
    if (auto text = create_help_text(args)) {
        std::cout << *text;
        return;
    }
    // From here a guest may run and an output exist: a signal stops and
    // discards them (host/interrupt.h).
    InterruptHandling interrupts("create");
    std::vector<std::string> warnings;
    BackingProbe probe = [&](const BackingQuery& q) { return probe_backing(q, sandbox); };
    CreatePlan plan;
    try {
        plan = plan_create(args, probe, warnings);
    } catch (...) {
        for (const auto& w : warnings) std::cerr << "instar: create: warning: " << w << "\n";
        throw;
    }
    for (const auto& w : warnings) std::cerr << "instar: create: warning: " << w << "\n";
    bool human = plan.output == OutputFormat::human;
    if (human && !plan.quiet) std::cout << formatting_line(plan) << "\n" << std::flush;
    for (const auto& w : plan.driver_warnings) std::cerr << "instar: create: warning: " << w << "\n";
    ResolvedCreate resolved = resolve_create(plan);

    const std::string absolute_filename = absolute_path(plan.filename);
    OutputFile out(plan.filename);
    apply_file_hints(out.fd(), resolved.file_hints);
    abi::CreateResult result = resolved.request.format == uint32_t(abi::Format::raw)
                                   ? create_raw(resolved, out)
                                   : create_in_guest(resolved, out, sandbox, plan.deterministic);
    out.commit(result.file_size_after);
    if (!human) print_json(absolute_filename, plan.format_name, result);
}

}  // namespace

void add_create_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("create", "Create a disk image (as qemu-img create)");
    cmd->prefix_command();
    cmd->set_help_flag();
    cmd->callback([cmd] { run_create(cmd->remaining()); });
}

}  // namespace instar::cli
