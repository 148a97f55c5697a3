#include "image/convert_session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "abi/ops/convert.h"
#include "abi/virtio.h"
#include "host/direct_io.h"
#include "host/error.h"
#include "host/output_file.h"
#include "host/raw_file.h"
#include "image/info_session.h"
#include "image/input_file.h"

namespace instar::image {
namespace {

constexpr uint64_t kSector = abi::virtio::kSectorSize;

struct Sources {
    std::vector<InputFile> files;  // every layer of every source, in device order
    abi::ConvertConfig config{};
};

// qemu's find_snapshot_by_id_and_name over what `info` read of the image's
// snapshot table (the entries in table order, ids and names cut at their
// first NUL as qemu's strcmp cuts them); the table index, or nothing.
std::optional<uint32_t> find_snapshot(const CheckedInfoImage& image, const std::optional<std::string>& id,
                                      const std::optional<std::string>& name) {
    auto text = [](const auto& s) { return std::string(s.bytes, s.length); };
    // Names longer than `info` shows cannot be told apart from each other.
    if (name && name->size() >= abi::kInfoNameMax - 1)
        throw Error("snapshot names of " + std::to_string(abi::kInfoNameMax - 1) +
                    " bytes or more are not supported by instar");
    for (size_t i = 0; i < image->snapshots.size(); ++i) {
        const abi::InfoSnapshot& sn = image->snapshots[i];
        if ((!id || text(sn.id) == *id) && (!name || text(sn.name) == *name)) return uint32_t(i);
    }
    return std::nullopt;
}

// -l, as qemu-img convert loads the snapshot after opening every source.
uint32_t pick_snapshot(const ConvertQuery::Snapshot& want, const CheckedInfoImage& top, size_t sources) {
    const auto failed = [](const std::string& why) { return Error("Failed to load snapshot: " + why); };
    if (want.id_or_name && sources > 1) throw Error("No support for concatenating multiple snapshot");
    if (!want.id && !want.name) throw failed("snapshot_id and name are both NULL");
    const auto format = abi::Format(top->info.format);
    if (format != abi::Format::qcow2)
        throw failed(std::string("Block format '") + abi::format_name(format) +
                     "' used by device '' does not support temporarily loading internal snapshots");
    std::optional<uint32_t> index = want.id_or_name ? find_snapshot(top, want.id, std::nullopt)
                                                    : find_snapshot(top, want.id, want.name);
    if (!index && want.id_or_name) index = find_snapshot(top, std::nullopt, want.id);
    if (!index) throw failed("Can't find snapshot");
    return *index;
}

// Every source's chain, checked by `info` runs, its files kept open for the
// conversion.
void open_sources(const ConvertQuery& q, const GuestRun& run, Sources& out) {
    if (q.sources.size() > abi::kConvertMaxSources)
        throw Error("at most " + std::to_string(abi::kConvertMaxSources) + " source images");
    abi::ConvertConfig& c = out.config;
    c.snapshot = abi::kConvertActiveImage;
    std::optional<CheckedInfoImage> top;  // the first source's image, for -l
    for (const std::string& name : q.sources) {
        InfoQuery iq;
        iq.filename = name;
        iq.format = q.source_format;
        iq.backing_chain = true;
        iq.backing_dirs = q.backing_dirs;
        std::vector<InputFile> files;
        std::vector<CheckedInfoImage> chain = read_info_chain(iq, run, &files);
        if (files.size() != chain.size()) throw Error("internal error: chain files and images disagree");
        if (c.source_count == 0 && q.snapshot) top = chain.front();
        abi::ConvertSource& s = c.sources[c.source_count++];
        s.first_layer = c.layer_count;
        s.layer_count = uint32_t(chain.size());
        for (size_t i = 0; i < chain.size(); ++i) {
            abi::ConvertLayer& l = c.layers[c.layer_count++];
            l.device = uint32_t(out.files.size());
            l.format = chain[i]->info.format;
            l.virtual_size = chain[i]->info.virtual_size;
            out.files.push_back(std::move(files[i]));
        }
        const uint64_t size = c.layers[s.first_layer].virtual_size;
        if (size % kSector || size > UINT64_MAX - c.total_size) throw Error("virtual size out of range");
        c.total_size += size;
    }
    if (q.snapshot) c.snapshot = pick_snapshot(*q.snapshot, *top, q.sources.size());
}

// -n: the target as it is, written in place as qemu-img writes it.
struct ExistingTarget {
    int fd = -1;
    ~ExistingTarget() {
        if (fd >= 0) close(fd);
    }
};

// The output's final length, checked against what the device allowed.
uint64_t check_result(const GuestOutput& output, const abi::ConvertConfig& c, uint64_t capacity) {
    auto r = output.result_as<abi::ConvertResult>("convert");
    const bool raw = c.output_format == uint32_t(abi::Format::raw);
    if (r.total_size != c.total_size || r.bytes_written > c.total_size || r.file_size > capacity ||
        (raw && r.file_size != c.total_size))
        throw Error("guest misbehaved: convert result does not match the sources");
    return r.file_size;
}

// Room for a new image's data and all its metadata, as `create` gives.
uint64_t image_capacity(uint64_t size) {
    const uint64_t capacity = size + size / 4 + (256ull << 20);
    return (capacity + kSector - 1) / kSector * kSector;
}

// -t none: the output's requests that allow it bypass the page cache.
void use_direct(DirectDescriptor& direct, int fd, const std::string& name, Disk& disk) {
    direct.open(fd, name);
    disk.direct_fd = direct.fd();
    disk.direct_offset_align = direct.offset_align();
    disk.direct_memory_align = direct.memory_align();
}

// The formats whose writers the guest has (FormatDriver::open_writer), and raw.
constexpr abi::Format kWritableFormats[] = {abi::Format::raw, abi::Format::qcow2, abi::Format::vmdk, abi::Format::vpc,
                                           abi::Format::vhdx};

constexpr abi::Format kCompressingFormats[] = {abi::Format::qcow2, abi::Format::vmdk};

template <size_t N>
bool listed(const abi::Format (&list)[N], abi::Format format) {
    for (abi::Format f : list)
        if (f == format) return true;
    return false;
}

}  // namespace

bool convert_writes(abi::Format format) { return listed(kWritableFormats, format); }
bool convert_compresses(abi::Format format) { return listed(kCompressingFormats, format); }

void convert_images(const ConvertQuery& q, const GuestRun& run_template) {
    const bool raw = q.output_format == abi::Format::raw;
    if (!convert_writes(q.output_format) || (!raw && (!q.output_image || q.existing_target)))
        throw Error(std::string("converting to ") + abi::format_name(q.output_format) + " is not supported yet");
    Sources sources;
    open_sources(q, run_template, sources);
    abi::ConvertConfig& c = sources.config;
    c.output_format = uint32_t(q.output_format);
    c.min_sparse_sectors = q.min_sparse_bytes / kSector;
    if (q.existing_target) c.flags |= abi::kConvertExistingTarget;
    if (q.target_is_zero) c.flags |= abi::kConvertTargetIsZero;
    if (q.compress) c.flags |= abi::kConvertCompress;
    ConvertQuery::OutputImage image{};
    image.request.format = uint32_t(q.output_format);
    image.request.size = c.total_size;
    if (q.output_image) image = q.output_image(c.total_size);
    if (image.request.format != uint32_t(q.output_format) || image.request.size != c.total_size)
        throw Error("internal error: the output's request does not match the conversion");
    if (!raw) c.target = image.request;
    // qemu-img convert compresses, -c or not, when the new image takes
    // only compressed writes (bdrv_get_info's needs_compressed_writes):
    // a streamOptimized vmdk.
    if (image.request.format == uint32_t(abi::Format::vmdk) &&
        image.request.vmdk_subformat == uint32_t(abi::VmdkSubformat::stream_optimized))
        c.flags |= abi::kConvertCompress;

    GuestRun run = run_template;
    run.op = abi::OpId::convert;
    run.op_name = "convert";
    run.op_config.assign(reinterpret_cast<const uint8_t*>(&c), reinterpret_cast<const uint8_t*>(&c) + sizeof c);
    for (const InputFile& f : sources.files) run.inputs.push_back(Disk{f.fd(), f.size(), f.size(), uint32_t(kSector)});
    Disk out_disk;
    out_disk.size_bytes = raw ? c.total_size : 0;
    out_disk.capacity_bytes = raw ? c.total_size : image_capacity(c.total_size);
    out_disk.block_size = uint32_t(kSector);
    out_disk.allocate_by_writing = true;  // -S 0: the zeroes are really written
    out_disk.write_zero_blocks = true;    // the guest leaves out what -S says
    out_disk.write_rate = q.rate_limit;

    if (q.existing_target) {
        ExistingTarget target;
        target.fd = open(q.output.c_str(), O_WRONLY | O_CLOEXEC);
        if (target.fd < 0)
            throw Error("Could not open '" + q.output + "': Could not open '" + q.output + "': " +
                        std::strerror(errno));
        struct stat st;
        if (fstat(target.fd, &st) < 0) throw_errno("Could not open '" + q.output + "'", errno);
        if (file_length(target.fd, st) < c.total_size) throw Error("output file is smaller than input file");
        out_disk.fd = target.fd;
        DirectDescriptor direct;
        if (q.direct) use_direct(direct, target.fd, q.output, out_disk);
        run.output = out_disk;
        check_result(run_guest_in_child(run), c, out_disk.capacity_bytes);
        if (q.flush && fdatasync(target.fd) < 0) throw_errno("Could not flush '" + q.output + "'", errno);
        return;
    }
    OutputFile out(q.output);
    apply_file_hints(out.fd(), image.hints);
    if (raw) create_raw_file(out.fd(), c.total_size, abi::Preallocation(image.request.preallocation), q.output);
    out_disk.fd = out.fd();
    DirectDescriptor direct;
    if (q.direct) use_direct(direct, out.fd(), q.output, out_disk);
    run.output = out_disk;
    const uint64_t file_size = check_result(run_guest_in_child(run), c, out_disk.capacity_bytes);
    if (q.flush && fdatasync(out.fd()) < 0) throw_errno("Could not flush '" + q.output + "'", errno);
    out.commit(file_size);
}

}  // namespace instar::image
