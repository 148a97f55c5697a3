// Reading fields of an embedded descriptor the way qemu-img 7.2 does
// (strstr + sscanf), so an image opens here exactly when it opens there.
// Each function takes the descriptor as a string: text[0, len) with no NUL
// inside it.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "formats/common/status.h"

namespace instar::formats::vmdk {

// Position of the first occurrence of `needle` in text[0, len).
bool find_text(const char* text, size_t len, const char* needle, size_t& pos);

// The value after the first occurrence of `key` ("CID" or "parentCID") and
// one separator character, parsed as sscanf("%x") does: leading white
// space, optional sign, optional 0x, saturating on overflow, truncated to 32
// bits. Note that "CID" also matches inside "parentCID", as in qemu. False
// when the key is missing or no number follows.
bool read_cid_field(const char* text, size_t len, const char* key, uint32_t& out);

// Where qemu finds the backing file name: after the first occurrence of
// "parentFileNameHint" and two more bytes (`="`), up to the next quote.
struct ParentHint {
    bool present;   // the key occurs at all
    size_t start;   // text[start, start + length) is the name, when present
    size_t length;  // may be 0: qemu then records no backing file
};

// False when the key is there but its value is not closed by a quote or is
// longer than 4095 bytes: qemu refuses to open such an image.
bool find_parent_hint(const char* text, size_t len, ParentHint& out);

// find_parent_hint without the position.
bool parent_hint_ok(const char* text, size_t len);

// The descriptor length qemu looks at: bytes up to the first NUL in
// buf[0, max).
size_t descriptor_length(const char* buf, size_t max);

// A descriptor file's createType value, found as qemu finds it: after the
// first occurrence of "createType" and two more bytes (`="`), up to the next
// quote, at most kCreateTypeLongest bytes. False when qemu calls the
// descriptor invalid (no key, no closing quote, too long).
inline constexpr size_t kCreateTypeLongest = 127;
bool find_create_type(const char* text, size_t len, size_t& start, size_t& length);

// The createType values with which qemu opens a descriptor file (whose
// extents live in other files); any other is refused.
bool is_descriptor_file_type(const char* type, size_t len);

enum class ExtentType : uint8_t { flat, sparse, vmfs, vmfs_sparse, se_sparse };

// qemu's name for the type, as it shows it ("FLAT", "VMFSSPARSE", ...).
const char* extent_type_name(ExtentType t);

// The longest file name qemu reads from an extent line.
inline constexpr size_t kNameLongest = 511;

struct ExtentLine {
    ExtentType type;
    uint64_t sectors;      // > 0, as written (sparse extents take theirs from the file)
    uint64_t flat_offset;  // sectors into the file: FLAT only (0 for VMFS)
    size_t name_start;     // text[name_start, +name_length): 1 to 511 bytes,
    size_t name_length;    // none of them CR, LF or '"'
};

// The extent lines of a descriptor file, read one line at a time with
// qemu's sscanf("%10s %ld %10s \"%511[^\n\r\"]\" %ld"), which like any
// sscanf skips white space across line ends: a blank line reads as the
// next line that is not, so qemu takes an extent line once more for each
// blank line before it. Lines qemu passes over (not RW, a size <= 0, a
// type it does not know such as ZERO) are skipped here too; a line qemu
// calls invalid ends the walk with image_invalid.
class ExtentLineReader {
public:
    ExtentLineReader(const char* text, size_t len) : text_(text), len_(len) {}

    // kOk and `done` false with `line` filled, or kOk and `done` true after
    // the last line, or image_invalid.
    Status next(ExtentLine& line, bool& done);

private:
    enum class Outcome : uint8_t { skip, extent, invalid };
    Outcome read_from(size_t start, ExtentLine& line) const;

    const char* text_;
    size_t len_;
    size_t line_ = 0;  // start of the next line to read
    // Lines that start with white space read from the first byte after
    // it: consecutive blank lines all read the same line, which is read
    // once (qemu's sscanf takes quadratic time over blank lines).
    size_t last_start_ = SIZE_MAX;
    Outcome last_outcome_ = Outcome::skip;
    ExtentLine last_line_{};
};

}  // namespace instar::formats::vmdk
