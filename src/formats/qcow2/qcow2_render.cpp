#include "formats/qcow2/qcow2_render.h"

#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_header.h"
#include "formats/qcow2/qcow2_layout.h"

namespace instar::formats::qcow2 {
namespace {

constexpr uint64_t kMinBufferBytes = 64 * 1024;

class Renderer {
public:
    Renderer(const CreateParams& p, const ImagePlan& plan, ImageSink& sink)
        : p_(p), plan_(plan), a_(plan.alloc), sink_(sink) {}

    Status run(Arena& arena, uint64_t& bytes_written) {
        buf_size_ = a_.cluster_size() > kMinBufferBytes ? a_.cluster_size() : kMinBufferBytes;
        buf_ = static_cast<uint8_t*>(arena.alloc(buf_size_));
        if (!buf_) return Status::scratch_exceeded;

        // Oldest first: what qemu wrote later lies on top.
        for (size_t i = 0; !plan_.streamed && i < a_.stale_count(); ++i) {
            const StaleTable& t = a_.stale(i);
            Status st = write_table(t.offset, t.entries, t.size, i);
            if (st != kOk) return st;
        }
        for (size_t i = 0; i < plan_.zero_write_count; ++i) {
            Status st = zero_over_stale(plan_.zero_writes[i].offset, plan_.zero_writes[i].len);
            if (st != kOk) return st;
        }
        Status st = write_header();
        if (st == kOk) st = write_table(a_.table_offset(), a_.table(), a_.table_size(), kNoStale);
        if (st == kOk) st = write_refblocks();
        if (st == kOk) st = write_l1();
        if (st == kOk && !plan_.streamed) st = write_l2_tables();
        bytes_written = written_;
        return st;
    }

private:
    static constexpr size_t kNoStale = ~size_t(0);

    // Whether [offset, offset+len) meets a replaced table other than `self`.
    bool overlaps_stale(uint64_t offset, uint64_t len, size_t self) const {
        for (size_t i = 0; i < a_.stale_count(); ++i) {
            if (i == self) continue;
            const StaleTable& t = a_.stale(i);
            if (offset < t.offset + t.size * kEntryBytes && t.offset < offset + len) return true;
        }
        return false;
    }

    Status raw_write(uint64_t offset, const uint8_t* data, uint64_t len) {
        if (len == 0) return kOk;
        if (!sink_.write(offset, data, len)) return Status::write_failed;
        written_ += len;
        return kOk;
    }

    // Writes the non-zero span of data, or all of it over stale bytes.
    Status put(uint64_t offset, const uint8_t* data, uint64_t len, size_t self = kNoStale) {
        if (overlaps_stale(offset, len, self)) return raw_write(offset, data, len);
        uint64_t begin = 0;
        while (begin < len && data[begin] == 0) ++begin;
        uint64_t end = len;
        while (end > begin && data[end - 1] == 0) --end;
        return raw_write(offset + begin, data + begin, end - begin);
    }

    Status zero_over_stale(uint64_t offset, uint64_t len) {
        for (size_t i = 0; i < a_.stale_count(); ++i) {
            const StaleTable& t = a_.stale(i);
            const uint64_t t_end = t.offset + t.size * kEntryBytes;
            uint64_t from = offset > t.offset ? offset : t.offset;
            const uint64_t to = offset + len < t_end ? offset + len : t_end;
            while (from < to) {
                const uint64_t n = to - from < buf_size_ ? to - from : buf_size_;
                __builtin_memset(buf_, 0, n);
                Status st = raw_write(from, buf_, n);
                if (st != kOk) return st;
                from += n;
            }
        }
        return kOk;
    }

    Status write_table(uint64_t offset, const uint64_t* entries, uint64_t count, size_t self) {
        const uint64_t per_chunk = buf_size_ / kEntryBytes;
        for (uint64_t first = 0; first < count; first += per_chunk) {
            const uint64_t n = count - first < per_chunk ? count - first : per_chunk;
            bool any = false;
            for (uint64_t i = 0; i < n; ++i) {
                store_be64(buf_ + i * kEntryBytes, entries[first + i]);
                any |= entries[first + i] != 0;
            }
            const uint64_t at = offset + first * kEntryBytes;
            if (!any && !overlaps_stale(at, n * kEntryBytes, self)) continue;
            Status st = put(at, buf_, n * kEntryBytes, self);
            if (st != kOk) return st;
        }
        return kOk;
    }

    Status write_header() {
        HeaderFields f{plan_.l1_size, plan_.l1_offset, a_.table_offset(), a_.table_clusters()};
        render_header(p_, f, buf_);
        return put(0, buf_, header_used_bytes(p_));
    }

    // Refcount `index` of the block in buf_, which holds zero there.
    void set_refcount(uint64_t index, uint64_t value) {
        const uint32_t order = a_.refcount_order();
        if (order < 3) {
            const uint32_t per_byte_log2 = 3 - order;
            const uint32_t shift = uint32_t(index & ((1u << per_byte_log2) - 1)) << order;
            buf_[index >> per_byte_log2] |= uint8_t(value << shift);
        } else {
            const uint64_t bytes = uint64_t(1) << (order - 3);
            for (uint64_t b = 0; b < bytes; ++b) buf_[index * bytes + bytes - 1 - b] = uint8_t(b < 8 ? value >> (8 * b) : 0);
        }
    }

    void clear_refcount(uint64_t index) {
        const uint32_t order = a_.refcount_order();
        if (order < 3) {
            const uint32_t per_byte_log2 = 3 - order;
            const uint32_t shift = uint32_t(index & ((1u << per_byte_log2) - 1)) << order;
            buf_[index >> per_byte_log2] &= uint8_t(~(((1u << (1u << order)) - 1) << shift));
        } else {
            const uint64_t bytes = uint64_t(1) << (order - 3);
            for (uint64_t b = 0; b < bytes; ++b) buf_[index * bytes + b] = 0;
        }
    }

    Status write_refblocks() {
        const uint64_t cs = a_.cluster_size();
        const uint32_t bits = a_.refblock_bits();
        const ClusterSet& used = a_.used();
        for (uint64_t i = 0; i < a_.table_size(); ++i) {
            const uint64_t block = a_.table()[i];
            if (block == 0) continue;
            const uint64_t first = i << bits;
            const uint64_t last = (i + 1) << bits;
            __builtin_memset(buf_, 0, cs);
            for (size_t r = used.lower_bound(first); r < used.range_count(); ++r) {
                const ClusterSet::Range& range = used.range(r);
                if (range.begin >= last) break;
                const uint64_t from = range.begin > first ? range.begin : first;
                const uint64_t to = range.end < last ? range.end : last;
                for (uint64_t c = from; c < to; ++c) set_refcount(c - first, 1);
            }
            // Host clusters that compressed clusters share count each one.
            for (size_t k = a_.shared_lower_bound(first); k < a_.shared_count() && a_.shared(k).cluster < last; ++k) {
                const uint64_t index = a_.shared(k).cluster - first;
                clear_refcount(index);
                set_refcount(index, 1 + a_.shared(k).extra);
            }
            Status st = put(block, buf_, cs);
            if (st != kOk) return st;
        }
        return kOk;
    }

    Status write_l1() {
        if (plan_.l1) return write_table(plan_.l1_offset, plan_.l1, plan_.l1_size, kNoStale);
        return zero_over_stale(plan_.l1_offset, plan_.l1_size * kEntryBytes);
    }

    Status write_l2_tables() {
        if (!plan_.l1) return kOk;
        const uint64_t cs = a_.cluster_size();
        const uint64_t entries = uint64_t(1) << plan_.l2_bits;
        size_t run = 0;
        for (uint64_t k = 0; k < plan_.l1_size; ++k) {
            const uint64_t l2_offset = plan_.l1[k] & kL1OffsetMask;
            if (l2_offset == 0) continue;
            const uint64_t first = k * entries;
            const uint64_t last = first + entries;
            __builtin_memset(buf_, 0, cs);
            while (run < plan_.run_count && plan_.runs[run].guest_cluster + plan_.runs[run].count <= first) ++run;
            for (size_t r = run; r < plan_.run_count && plan_.runs[r].guest_cluster < last; ++r) {
                const DataRun& d = plan_.runs[r];
                const uint64_t from = d.guest_cluster > first ? d.guest_cluster : first;
                const uint64_t to = d.guest_cluster + d.count < last ? d.guest_cluster + d.count : last;
                for (uint64_t g = from; g < to; ++g) {
                    const uint64_t host = (d.host_cluster + (g - d.guest_cluster)) << a_.cluster_bits();
                    store_be64(buf_ + (g - first) * plan_.l2_entry_bytes, host | kOflagCopied);
                }
            }
            Status st = put(l2_offset, buf_, cs);
            if (st != kOk) return st;
        }
        return kOk;
    }

    const CreateParams& p_;
    const ImagePlan& plan_;
    const Allocator& a_;
    ImageSink& sink_;
    uint8_t* buf_ = nullptr;
    uint64_t buf_size_ = 0;
    uint64_t written_ = 0;
};

}  // namespace

Status render_image(const CreateParams& params, const ImagePlan& plan, Arena& arena, ImageSink& sink,
                    uint64_t& bytes_written) {
    Renderer r(params, plan, sink);
    return r.run(arena, bytes_written);
}

}  // namespace instar::formats::qcow2
