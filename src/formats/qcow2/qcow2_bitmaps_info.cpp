#include "formats/qcow2/qcow2_bitmaps_info.h"

#include "abi/ops/info.h"
#include "formats/common/endian.h"
#include "formats/qcow2/qcow2_info_strings.h"
#include "formats/qcow2/qcow2_layout.h"
#include "formats/qcow2/qcow2_open.h"
#include "formats/qcow2/qcow2_window.h"

namespace instar::formats::qcow2 {
namespace {

// What the later checks need of one directory entry.
struct Entry {
    uint64_t hash;     // of the name as qemu holds it (up to the first NUL)
    uint64_t name_at;  // file offset of the name
    uint32_t index;    // position in the directory
    uint16_t name_len;
    uint8_t in_use;
    uint8_t too_big;  // in use, and more bits than qemu's in-memory bitmap can have
};

struct Range {
    uint64_t start;
    uint64_t end;
};

template <typename T>
void swap_items(T& a, T& b) {
    T t = a;
    a = b;
    b = t;
}

// Counts come from the file (up to 65535): a sort whose worst case is
// still n log n.
template <typename T, typename Less>
void heap_sort(T* a, size_t n, Less less) {
    auto sift = [&](size_t root, size_t end) {
        for (;;) {
            size_t child = 2 * root + 1;
            if (child >= end) return;
            if (child + 1 < end && less(a[child], a[child + 1])) ++child;
            if (!less(a[root], a[child])) return;
            swap_items(a[root], a[child]);
            root = child;
        }
    };
    for (size_t i = n / 2; i-- > 0;) sift(i, n);
    for (size_t end = n; end-- > 1;) {
        swap_items(a[0], a[end]);
        sift(0, end);
    }
}

// SipHash-2-4 with a fixed key. Names come from the image: with a hash an
// image could make collide at will, many different names of one hash
// would make the duplicate check below quadratic.
uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
    uint64_t v0, v1, v2, v3;
    void round() {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    }
    void absorb(uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

uint64_t name_hash(const uint8_t* p, size_t len) {
    constexpr uint64_t k0 = 0x0706050403020100ull;
    constexpr uint64_t k1 = 0x0f0e0d0c0b0a0908ull;
    SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
               k1 ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; i + 8 <= len; i += 8) s.absorb(load_le64(p + i));
    uint64_t last = uint64_t(len & 0xff) << 56;
    for (size_t k = 0; i + k < len; ++k) last |= uint64_t(p[i + k]) << (8 * k);
    s.absorb(last);
    s.v2 ^= 0xff;
    for (int r = 0; r < 4; ++r) s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

// How many bits qemu's in-memory bitmap has for a disk of `disk_bytes`.
uint64_t bitmap_bits(uint64_t disk_bytes, uint32_t granularity_bits) {
    return (disk_bytes >> granularity_bits) + ((disk_bytes & ((uint64_t(1) << granularity_bits) - 1)) != 0);
}

// check_dir_entry, and what load_bitmap needs of a bitmap that is not in
// use (it reads those): its table must be readable and exactly as long as
// the bitmap's serialized data needs.
bool entry_ok(const uint8_t* e, uint64_t cluster_size, uint64_t disk_bytes) {
    const uint64_t table_offset = load_be64(e + kBmeTableOffset);
    const uint32_t table_size = load_be32(e + kBmeTableSize);
    const uint32_t flags = load_be32(e + kBmeFlags);
    const uint32_t bits = e[kBmeGranularityBits];
    if (table_size == 0 || table_offset == 0 || (table_offset & (cluster_size - 1)) != 0 ||
        table_size > kBmeMaxTableSize || bits > kBmeMaxGranularityBits || bits < kBmeMinGranularityBits ||
        (flags & kBmeReservedFlags) != 0 || load_be16(e + kBmeNameSize) > kBmeMaxNameSize ||
        e[kBmeType] != kBmeTypeDirtyTracking) {
        return false;
    }
    const uint64_t phys_bytes = uint64_t(table_size) * cluster_size;
    if (phys_bytes > kBmeMaxPhysSize) return false;
    if (flags & kBmeFlagInUse) return true;
    // A consistent bitmap must cover the whole disk.
    if (disk_bytes > ((phys_bytes * 8) << bits)) return false;
    if (!read_allowed(table_offset, uint64_t(table_size) * kEntryBytes)) return false;
    // qemu serializes the bitmap in 64-bit words, and its table has one
    // entry per cluster of them.
    const uint64_t words = disk_bytes == 0 ? 0 : (((disk_bytes - 1) >> bits) >> 6) + 1;
    const uint64_t clusters = (words * 8 + cluster_size - 1) / cluster_size;
    return clusters == table_size;
}

// bitmap_list_load: entries back to back up to the directory's end, as
// many as the extension counts. Each entry becomes a record.
Status walk_directory(ImageSource& src, Arena& arena, const BitmapDirectory& dir, uint64_t cluster_size,
                      uint64_t disk_bytes, RecordSink& records, Entry* entries, Range* tables, uint32_t& table_count) {
    auto* window = static_cast<uint8_t*>(arena.alloc(WindowReader::kWindowBytes, 4096, false));
    if (!window) return Status::out_of_memory;
    WindowReader r(src, window);
    uint64_t pos = 0;
    uint32_t n = 0;
    table_count = 0;
    // Each step moves on by at least one 24-byte entry.
    while (pos < dir.size) {
        if (dir.size - pos < kBmeHeaderBytes || n == dir.count) return Status::image_invalid;
        uint8_t e[kBmeHeaderBytes];
        if (!r.read(dir.offset + pos, e, sizeof e)) return Status::read_failed;
        const uint32_t name_size = load_be16(e + kBmeNameSize);
        const uint32_t extra_size = load_be32(e + kBmeExtraDataSize);
        const uint64_t entry_bytes = (kBmeHeaderBytes + uint64_t(name_size) + extra_size + 7) & ~uint64_t(7);
        if (entry_bytes > dir.size - pos) return Status::image_invalid;
        // qemu does not know any extra data.
        if (extra_size != 0) return Status::image_invalid;
        if (!entry_ok(e, cluster_size, disk_bytes)) return Status::image_invalid;

        const uint64_t name_at = dir.offset + pos + kBmeHeaderBytes;
        uint8_t name[kBmeMaxNameSize];
        if (!r.read(name_at, name, name_size)) return Status::read_failed;
        const size_t name_len = until_nul(name, name_size);

        const uint32_t flags = load_be32(e + kBmeFlags);
        const uint32_t bits = e[kBmeGranularityBits];
        abi::InfoBitmap b{};
        if (flags & kBmeFlagInUse) b.flags |= abi::kInfoBitmapInUse;
        if (flags & kBmeFlagAuto) b.flags |= abi::kInfoBitmapAuto;
        b.granularity = uint32_t(1) << bits;
        set_string(b.name, name, name_len);  // fits: kInfoBitmapNameMax == kBmeMaxNameSize
        records.add(abi::InfoRecord::bitmap, b);

        Entry& en = entries[n];
        en.hash = name_hash(name, name_len);
        en.name_at = name_at;
        en.index = n;
        en.name_len = uint16_t(name_len);
        en.in_use = (flags & kBmeFlagInUse) != 0;
        en.too_big = en.in_use && bitmap_bits(disk_bytes, bits) > kHbitmapMaxBits;
        if (!en.in_use) {
            const uint64_t start = load_be64(e + kBmeTableOffset);
            tables[table_count++] = Range{start, start + uint64_t(load_be32(e + kBmeTableSize)) * kEntryBytes};
        }
        ++n;
        pos += entry_bytes;
    }
    return n == dir.count ? kOk : Status::image_invalid;
}

// qemu creates an in-memory bitmap per entry, in directory order: a name
// already taken fails the open, except for an in-use bitmap, which is
// then skipped. Only equal names can clash, and names of equal hash are
// adjacent once sorted; those (rare unless duplicated) are compared.
Status check_names(ImageSource& src, Arena& arena, Entry* entries, uint32_t count) {
    heap_sort(entries, count, [](const Entry& a, const Entry& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
    });
    // Distinct names met within one run of equal hashes. More than a few
    // would take a SipHash multi-collision (far beyond any computer); such
    // an image is refused as unsupported rather than compared slowly.
    constexpr uint32_t kCached = 16;
    auto* cache = static_cast<uint8_t*>(arena.alloc(kCached * kBmeMaxNameSize, 16, false));
    if (!cache) return Status::out_of_memory;
    uint8_t name[kBmeMaxNameSize];
    for (uint32_t run = 0; run < count;) {
        uint32_t end = run + 1;
        while (end < count && entries[end].hash == entries[run].hash) ++end;
        // Representatives: the entries of the run whose name no earlier
        // entry of the run has.
        uint32_t reps[kCached];
        uint32_t rep_count = 0;
        for (uint32_t i = run; i < end; ++i) {
            const Entry& e = entries[i];
            bool seen = false;
            if (end - run > 1) {
                if (!src.read(e.name_at, name, e.name_len)) return Status::read_failed;
                for (uint32_t k = 0; k < rep_count && !seen; ++k) {
                    const Entry& rep = entries[reps[k]];
                    seen = rep.name_len == e.name_len &&
                           __builtin_memcmp(cache + k * kBmeMaxNameSize, name, e.name_len) == 0;
                }
                if (!seen) {
                    if (rep_count == kCached) return Status::unsupported_feature;
                    __builtin_memcpy(cache + rep_count * kBmeMaxNameSize, name, e.name_len);
                    reps[rep_count++] = i;
                }
            }
            if (seen && !e.in_use) return Status::image_invalid;
            if (!seen && e.too_big) return Status::image_invalid;
        }
        run = end;
    }
    return kOk;
}

bool table_entry_ok(uint64_t entry, uint64_t cluster_size) {
    const uint64_t data = entry & kBmeTableEntryOffset;
    if (entry & kBmeTableEntryReserved) return false;
    return data == 0 || (!(entry & kBmeTableEntryAllOnes) && (data & (cluster_size - 1)) == 0);
}

// Every entry of [start, end), read in large pieces. Past the end of the
// file every entry reads as zero, which is valid.
Status check_entries(ImageSource& src, uint8_t* buf, uint64_t start, uint64_t end, uint64_t cluster_size) {
    const uint64_t file_end = (src.size() + kEntryBytes - 1) & ~(kEntryBytes - 1);
    if (end > file_end) end = file_end;
    for (uint64_t at = start; at < end;) {
        const size_t n = end - at < WindowReader::kWindowBytes ? size_t(end - at) : WindowReader::kWindowBytes;
        if (!src.read(at, buf, n)) return Status::read_failed;
        for (size_t k = 0; k < n; k += kEntryBytes) {
            if (!table_entry_ok(load_be64(buf + k), cluster_size)) return Status::image_invalid;
        }
        at += n;
    }
    return kOk;
}

// bitmap_table_load checks every entry of a bitmap's table. An entry's
// validity depends on nothing but its value, so the union of all tables
// is read once, however the tables overlap.
Status check_tables(ImageSource& src, Arena& arena, Range* tables, uint32_t count, uint64_t cluster_size) {
    if (count == 0) return kOk;
    heap_sort(tables, count, [](const Range& a, const Range& b) { return a.start < b.start; });
    auto* buf = static_cast<uint8_t*>(arena.alloc(WindowReader::kWindowBytes, 4096, false));
    if (!buf) return Status::out_of_memory;
    Range run = tables[0];
    for (uint32_t i = 1; i < count; ++i) {
        if (tables[i].start > run.end) {
            const Status st = check_entries(src, buf, run.start, run.end, cluster_size);
            if (st != kOk) return st;
            run = tables[i];
        } else if (tables[i].end > run.end) {
            run.end = tables[i].end;
        }
    }
    return check_entries(src, buf, run.start, run.end, cluster_size);
}

}  // namespace

Status read_bitmaps_info(ImageSource& src, Arena& arena, const BitmapDirectory& dir, uint64_t cluster_size,
                         uint64_t disk_bytes, RecordSink& records) {
    static_assert(abi::kInfoBitmapNameMax == kBmeMaxNameSize, "every name qemu accepts fits a record");
    static_assert(abi::kInfoMaxBitmaps == kMaxBitmaps, "every bitmap qemu opens can be listed");
    if (dir.count == 0 || dir.count > kMaxBitmaps || dir.size > kMaxBitmapDirectorySize) return Status::image_invalid;
    if (dir.size == 0 || !read_allowed(dir.offset, dir.size)) return Status::image_invalid;
    Entry* entries = arena.alloc_array<Entry>(dir.count);
    Range* tables = arena.alloc_array<Range>(dir.count);
    if (!entries || !tables) return Status::out_of_memory;
    uint32_t table_count = 0;
    Status st = walk_directory(src, arena, dir, cluster_size, disk_bytes, records, entries, tables, table_count);
    if (st != kOk) return st;
    st = check_names(src, arena, entries, dir.count);
    if (st != kOk) return st;
    return check_tables(src, arena, tables, table_count, cluster_size);
}

}  // namespace instar::formats::qcow2
