#include "formats/vmdk/vmdk_probe.h"

#include "formats/vmdk/vmdk_layout.h"
#include "formats/vmdk/vmdk_sparse_open.h"

namespace instar::formats {

namespace {

using namespace vmdk;

// qemu's probe buffer (BLOCK_PROBE_BUF_SIZE).
constexpr size_t kQemuProbeBytes = 512;

bool starts_with(const uint8_t* head, size_t len, const uint8_t* magic) {
    if (len < kMagicBytes) return false;
    for (size_t i = 0; i < kMagicBytes; ++i) {
        if (head[i] != magic[i]) return false;
    }
    return true;
}

// The probe window: head, then zeroes up to kQemuProbeBytes.
struct Window {
    const uint8_t* head;
    size_t len;
    char at(size_t i) const { return i < len ? char(head[i]) : '\0'; }
    bool matches(size_t p, const char* s) const {
        for (size_t i = 0; s[i] != '\0'; ++i) {
            if (at(p + i) != s[i]) return false;
        }
        return true;
    }
};

bool descriptor_version_line(const Window& w) {
    static const char* const kUnix[] = {"version=1\n", "version=2\n", "version=3\n"};
    static const char* const kDos[] = {"version=1\r\n", "version=2\r\n", "version=3\r\n"};
    const size_t end = kQemuProbeBytes;
    size_t p = 0;
    while (p < end) {
        const char c = w.at(p);
        if (c == '#') {
            while (p < end && w.at(p) != '\n') ++p;
            ++p;
            continue;
        }
        if (c == ' ') {
            // Only lines of blanks may precede the version line; a line
            // that is empty outright does not count as blank.
            while (p < end && w.at(p) == ' ') ++p;
            if (p < end && w.at(p) == '\r') ++p;
            if (p == end || w.at(p) != '\n') return false;
            ++p;
            continue;
        }
        for (const char* line : kUnix) {
            if (end - p >= 10 && w.matches(p, line)) return true;
        }
        for (const char* line : kDos) {
            if (end - p >= 11 && w.matches(p, line)) return true;
        }
        return false;
    }
    return false;
}

}  // namespace

bool vmdk_detect(const uint8_t* head, size_t len) {
    if (head == nullptr || len == 0) return false;  // qemu takes empty files for raw
    if (starts_with(head, len, kSparseMagic) || starts_with(head, len, kCowdMagic)) return true;
    return descriptor_version_line(Window{head, len});
}

Status vmdk_read_basic(ImageSource& src, Arena& arena, BasicImageInfo& out) {
    vmdk::OpenedSparse opened;
    const Status s = vmdk::open_sparse_file(src, arena, opened);
    if (s != kOk) return s;
    out.virtual_size = opened.header.capacity * vmdk::kSectorSize;
    out.has_cid = true;
    out.cid = opened.keys.cid;
    return kOk;
}

}  // namespace instar::formats
