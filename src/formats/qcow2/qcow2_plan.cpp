#include "formats/qcow2/qcow2_plan.h"

#include "formats/common/bits.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

// Enough for every layout qemu-img create produces in practice; a layout
// fragmenting further is refused rather than guessed.
constexpr size_t kMaxUsedRanges = 1 << 16;
constexpr size_t kExtraRuns = 4096;
constexpr uint64_t kInvalidOffset = ~uint64_t(0);

uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

class Planner {
public:
    Planner(const CreateParams& p, Arena& arena, ImagePlan& plan, size_t max_shared)
        : p_(p), arena_(arena), plan_(plan), max_shared_(max_shared) {}

    Status run() {
        Status st = plan_.alloc.init(arena_, p_.cluster_bits, p_.refcount_order, kMaxUsedRanges, max_shared_);
        if (st != kOk) return st;
        plan_.l2_entry_bytes = p_.extended_l2 ? kL2ExtendedEntryBytes : kL2EntryBytes;
        plan_.l2_bits = p_.extended_l2 ? p_.cluster_bits - 4 : p_.cluster_bits - 3;
        plan_.l1_size = 0;
        plan_.l1_offset = 0;
        plan_.l1 = nullptr;
        plan_.runs = nullptr;
        plan_.run_count = 0;
        plan_.run_capacity = 0;
        plan_.zero_write_count = 0;
        plan_.has_prealloc = false;
        plan_.streamed = false;

        // Reopened, qemu first counts the header, table and block clusters.
        uint64_t offset = 0;
        Step s = plan_.alloc.alloc_clusters(kInitialClusters * cs(), offset);
        if (s != Step::ok) return step_status(s);
        if (offset != 0) return Status::internal;

        st = grow_l1();
        if (st != kOk) return st;
        switch (p_.prealloc) {
        case abi::Preallocation::off: return kOk;
        case abi::Preallocation::metadata: return preallocate_metadata();
        case abi::Preallocation::falloc:
        case abi::Preallocation::full: return preallocate_data();
        }
        return Status::internal;
    }

private:
    uint64_t cs() const { return uint64_t(1) << p_.cluster_bits; }
    uint64_t l2_entries() const { return uint64_t(1) << plan_.l2_bits; }
    uint64_t subcluster_size() const { return p_.extended_l2 ? cs() / kSubclustersPerCluster : cs(); }
    // qemu caches whole L2 tables by default (l2-cache-entry-size is the
    // cluster size), so its per-slice limits are per-table limits here.
    uint64_t l2_index(uint64_t guest) const { return (guest >> p_.cluster_bits) & (l2_entries() - 1); }

    // qcow2_grow_l1_table with exact_size, as qcow2_co_truncate calls it.
    Status grow_l1() {
        const uint64_t entries = div_round_up(p_.size, uint64_t(1) << (p_.cluster_bits + plan_.l2_bits));
        if (entries == 0) return kOk;
        if (entries > kIntMax / kEntryBytes || entries > kMaxL1Bytes / kEntryBytes) return Status::size_out_of_range;
        if (p_.prealloc != abi::Preallocation::off) {
            plan_.l1 = arena_.alloc_array<uint64_t>(entries);
            // Mostly one run per L2 table; a refcount block allocated in
            // the middle of a table's data splits it in two.
            plan_.run_capacity = entries * 2 + kExtraRuns;
            plan_.runs = arena_.alloc_array<DataRun>(plan_.run_capacity);
            if (!plan_.l1 || !plan_.runs) return Status::scratch_exceeded;
        }
        uint64_t offset = 0;
        Step s = plan_.alloc.alloc_clusters(entries * kEntryBytes, offset);
        if (s != Step::ok) return step_status(s);
        plan_.alloc.note_extent(offset, entries * kEntryBytes);
        plan_.l1_offset = offset;
        plan_.l1_size = entries;
        return kOk;
    }

    // get_cluster_table: the L2 table for `guest`, allocated on first use.
    Status ensure_l2(uint64_t guest) {
        const uint64_t index = guest >> (p_.cluster_bits + plan_.l2_bits);
        if (index >= plan_.l1_size) return Status::internal;
        if (plan_.l1[index] & kOflagCopied) return kOk;
        uint64_t offset = 0;
        Step s = plan_.alloc.alloc_clusters(cs(), offset);
        if (s != Step::ok) return step_status(s);
        if (offset == 0) return Status::internal;
        plan_.alloc.note_extent(offset, cs());
        plan_.l1[index] = offset | kOflagCopied;
        return kOk;
    }

    Status add_run(uint64_t guest_cluster, uint64_t host_cluster, uint64_t count) {
        if (plan_.run_count > 0) {
            DataRun& last = plan_.runs[plan_.run_count - 1];
            if (last.guest_cluster + last.count == guest_cluster && last.host_cluster + last.count == host_cluster) {
                last.count += count;
                return kOk;
            }
        }
        if (plan_.run_count == plan_.run_capacity) return Status::scratch_exceeded;
        plan_.runs[plan_.run_count++] = DataRun{guest_cluster, host_cluster, count};
        return kOk;
    }

    Status add_zero_write(uint64_t offset, uint64_t len) {
        if (len == 0) return kOk;
        if (plan_.zero_write_count == ImagePlan::kMaxZeroWrites) return Status::scratch_exceeded;
        plan_.zero_writes[plan_.zero_write_count++] = ByteRange{offset, len};
        plan_.alloc.note_extent(offset, len);
        return kOk;
    }

    // One allocation qemu made for a write request (QCowL2Meta), linked
    // into the L2 table once the whole request is mapped.
    struct Mapping {
        uint64_t guest;       // cluster-aligned guest offset
        uint64_t host;        // cluster-aligned host offset
        uint64_t clusters;
        uint64_t cow_end_from;  // bytes from `guest`
        uint64_t cow_end_to;
    };
    static constexpr size_t kMaxMappings = 64;

    // qcow2_alloc_host_offset for a fresh area: maps as much of
    // [offset, offset+bytes) as lands contiguously in the file.
    Status alloc_host_offset(uint64_t offset, uint64_t& bytes, uint64_t& host_out, Mapping* maps, size_t& map_count) {
        uint64_t start = offset;
        uint64_t remaining = bytes;
        uint64_t cluster_offset = kInvalidOffset;
        uint64_t host = kInvalidOffset;
        uint64_t cur = 0;
        map_count = 0;
        for (;;) {
            if (host == kInvalidOffset && cluster_offset != kInvalidOffset) host = cluster_offset;
            start += cur;
            remaining -= cur;
            if (cluster_offset != kInvalidOffset) cluster_offset += cur;
            if (remaining == 0) break;
            cur = remaining;

            // handle_copied only finds unallocated entries here, but it is
            // where qemu allocates a missing L2 table.
            Status st = ensure_l2(start);
            if (st != kOk) return st;

            // handle_alloc: stop at the end of the L2 table and at the
            // block layer's request size.
            const uint64_t in_cluster = start & (cs() - 1);
            uint64_t clusters = div_round_up(in_cluster + cur, cs());
            clusters = min_u64(clusters, l2_entries() - l2_index(start));
            clusters = min_u64(clusters, kRequestMaxBytes >> p_.cluster_bits);
            uint64_t alloc_offset = 0;
            if (cluster_offset == kInvalidOffset) {
                Step s = plan_.alloc.alloc_clusters(clusters * cs(), alloc_offset);
                if (s != Step::ok) return step_status(s);
            } else {
                alloc_offset = cluster_offset & ~(cs() - 1);
                uint64_t got = 0;
                Step s = plan_.alloc.alloc_clusters_at(alloc_offset, clusters, got);
                if (s != Step::ok) return step_status(s);
                if (got == 0) {
                    cur = 0;
                    break;
                }
                clusters = got;
            }
            const uint64_t requested = cur + in_cluster;
            const uint64_t avail = clusters << p_.cluster_bits;
            const uint64_t nb_bytes = min_u64(requested, avail);
            cluster_offset = alloc_offset + in_cluster;
            cur = min_u64(cur, nb_bytes - in_cluster);

            // calculate_l2_meta: a partial last cluster is completed by a
            // copy-on-write up to the next (sub)cluster boundary.
            if (map_count == kMaxMappings) return Status::scratch_exceeded;
            const uint64_t end_from = in_cluster + cur;
            const uint64_t sub = subcluster_size();
            maps[map_count++] = Mapping{start - in_cluster, alloc_offset, div_round_up(end_from, cs()), end_from,
                                        div_round_up(end_from, sub) * sub};
        }
        bytes -= remaining;
        host_out = host;
        return kOk;
    }

    // qcow2_alloc_cluster_link_l2 for each mapping (perform_cow, then the
    // L2 entries). qemu keeps them as a list built newest first.
    Status link(const Mapping* maps, size_t count) {
        for (size_t i = count; i-- > 0;) {
            const Mapping& m = maps[i];
            Status st = add_zero_write(m.host + m.cow_end_from, m.cow_end_to - m.cow_end_from);
            if (st != kOk) return st;
        }
        for (size_t i = 0; i < count; ++i) {
            const Mapping& m = maps[i];
            Status st = add_run(m.guest >> p_.cluster_bits, m.host >> p_.cluster_bits, m.clusters);
            if (st != kOk) return st;
        }
        return kOk;
    }

    // preallocate_co.
    Status preallocate_metadata() {
        const uint64_t chunk_max = kIntMax & ~(cs() - 1);
        uint64_t offset = 0;
        uint64_t bytes = p_.size;
        uint64_t host = 0;
        uint64_t cur = 0;
        Mapping maps[kMaxMappings];
        while (bytes) {
            cur = min_u64(bytes, chunk_max);
            size_t count = 0;
            Status st = alloc_host_offset(offset, cur, host, maps, count);
            if (st != kOk) return st;
            st = link(maps, count);
            if (st != kOk) return st;
            bytes -= cur;
            offset += cur;
        }
        // qemu extends the file to the end of the last mapped byte.
        if (p_.size != 0) plan_.alloc.note_extent(host, cur);
        return kOk;
    }

    // The falloc/full branch of qcow2_co_truncate.
    Status preallocate_data() {
        Allocator& a = plan_.alloc;
        uint64_t last = 0;
        if (!a.last_used_cluster(div_round_up(a.file_end(), cs()), last)) return Status::internal;
        const uint64_t old_file_size = (last + 1) * cs();
        const uint64_t data_clusters = div_round_up(p_.size, cs());
        // qemu reserves refcount room for one L2 table more than needed.
        const uint64_t l2_tables = div_round_up(data_clusters, l2_entries()) + 1;
        uint64_t allocation_start = 0;
        Step s = a.refcount_area(old_file_size, data_clusters + l2_tables, true, 0, 0, allocation_start);
        if (s != Step::ok) return step_status(s);
        uint64_t got = 0;
        s = a.alloc_clusters_at(allocation_start, data_clusters, got);
        if (s != Step::ok) return step_status(s);
        if (got != data_clusters) return Status::internal;

        const uint64_t new_file_size = allocation_start + data_clusters * cs();
        const uint64_t current = a.file_end();
        if (new_file_size < current) return Status::internal;
        if (new_file_size > current) {
            plan_.has_prealloc = true;
            plan_.prealloc = ByteRange{current, new_file_size - current};
            a.note_extent(current, new_file_size - current);
        }

        uint64_t guest = 0;
        uint64_t host = allocation_start;
        uint64_t remaining = data_clusters;
        while (remaining) {
            const uint64_t n = min_u64(remaining, l2_entries() - l2_index(guest));
            Status st = ensure_l2(guest);
            if (st != kOk) return st;
            st = add_run(guest >> p_.cluster_bits, host >> p_.cluster_bits, n);
            if (st != kOk) return st;
            guest += n * cs();
            host += n * cs();
            remaining -= n;
        }
        return kOk;
    }

    const CreateParams& p_;
    Arena& arena_;
    ImagePlan& plan_;
    size_t max_shared_;
};

}  // namespace

Status plan_image(const CreateParams& params, Arena& arena, ImagePlan& plan, size_t max_shared) {
    Planner planner(params, arena, plan, max_shared);
    return planner.run();
}

}  // namespace instar::formats::qcow2
