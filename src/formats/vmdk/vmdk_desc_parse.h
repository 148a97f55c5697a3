// Reading fields of an embedded descriptor the way qemu-img 7.2 does
// (strstr + sscanf), so an image opens here exactly when it opens there.
// Each function takes the descriptor as a string: text[0, len) with no NUL
// inside it.
#pragma once

#include <stddef.h>
#include <stdint.h>

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

}  // namespace instar::formats::vmdk
