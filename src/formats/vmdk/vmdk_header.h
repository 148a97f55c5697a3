// The KDMV sparse-extent header, field by field.
#pragma once

#include <stdint.h>

namespace instar::formats::vmdk {

struct SparseHeader {
    uint32_t version;
    uint32_t flags;
    uint64_t capacity;      // sectors
    uint64_t granularity;   // sectors per grain
    uint64_t desc_offset;   // sectors
    uint64_t desc_size;     // sectors
    uint32_t gtes_per_gt;
    uint64_t rgd_offset;    // sectors
    uint64_t gd_offset;     // sectors
    uint64_t grain_offset;  // sectors
    uint16_t compress_algorithm;
};

// Writes magic, fields and check bytes into p[0, kHeaderBytes); the caller
// provides zeroed memory, so the filler byte stays zero.
void encode_sparse_header(uint8_t* p, const SparseHeader& h);

// Reads the fields of p[0, kHeaderBytes) (magic and check bytes are the
// caller's business: qemu does not look at the check bytes).
void decode_sparse_header(const uint8_t* p, SparseHeader& h);

bool has_sparse_magic(const uint8_t* p);

// VMDK3 (ESX 2.x "COWD") sparse extents.
bool has_cowd_magic(const uint8_t* p);

}  // namespace instar::formats::vmdk
