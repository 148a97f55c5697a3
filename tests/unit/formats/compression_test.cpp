// The codecs of formats/common/compression.h against references: qemu
// 7.2's own functions (block/qcow2-threads.c; vmdk.c's uncompress() and
// compress(), which are zlib's), re-stated here on the same libraries with
// their own allocators and a fresh context every time, as qemu calls them.
// What the codecs make must be byte for byte what the references make;
// what they accept and the bytes they decode must be what the references
// accept and decode, on damaged streams too, however the input is cut into
// pieces; and after they are made they never take more memory.
#include <gtest/gtest.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/common/compression.h"

namespace instar::testing {
namespace {

using formats::Arena;
using formats::ClusterCompression;
using formats::Compressed;
using formats::Status;
using Bytes = std::vector<uint8_t>;

// ---- the references -------------------------------------------------------

// qcow2_zlib_compress: bytes made, -1 when they do not fit (-ENOMEM), -2
// on any other failure (-EIO).
long ref_zlib_compress(const Bytes& in, size_t cap, Bytes& out) {
    out.assign(cap, 0);
    z_stream s{};
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) return -2;
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = uInt(in.size());
    s.next_out = out.data();
    s.avail_out = uInt(cap);
    const int r = deflate(&s, Z_FINISH);
    const long made = r == Z_STREAM_END ? long(cap - s.avail_out) : r == Z_OK ? -1 : -2;
    deflateEnd(&s);
    if (made >= 0) out.resize(size_t(made));
    return made;
}

// qcow2_zlib_decompress: true when it succeeds.
bool ref_zlib_decompress(const Bytes& in, Bytes& out) {
    z_stream s{};
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = uInt(in.size());
    s.next_out = out.data();
    s.avail_out = uInt(out.size());
    if (inflateInit2(&s, -12) != Z_OK) return false;
    const int r = inflate(&s, Z_FINISH);
    const bool ok = (r == Z_STREAM_END || r == Z_BUF_ERROR) && s.avail_out == 0;
    inflateEnd(&s);
    return ok;
}

long ref_zstd_compress(const Bytes& in, size_t cap, Bytes& out) {
    out.assign(cap, 0);
    ZSTD_CCtx* c = ZSTD_createCCtx();
    if (!c) return -2;
    ZSTD_outBuffer o{out.data(), cap, 0};
    ZSTD_inBuffer i{in.data(), in.size(), 0};
    const size_t r = ZSTD_compressStream2(c, &o, &i, ZSTD_e_end);
    ZSTD_freeCCtx(c);
    if (r != 0) return r > o.size - o.pos ? -1 : -2;
    out.resize(o.pos);
    return long(o.pos);
}

bool ref_zstd_decompress(const Bytes& in, Bytes& out) {
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    ZSTD_inBuffer i{in.data(), in.size(), 0};
    size_t r = 0;
    bool ok = true;
    while (o.pos < o.size) {
        const size_t in_before = i.pos, out_before = o.pos;
        r = ZSTD_decompressStream(d, &o, &i);
        if (ZSTD_isError(r) || (i.pos <= in_before && o.pos <= out_before)) {
            ok = false;
            break;
        }
    }
    if (r != 0) ok = false;
    ZSTD_freeDCtx(d);
    return ok;
}

long ref_compress(ClusterCompression t, const Bytes& in, size_t cap, Bytes& out) {
    return t == ClusterCompression::zlib ? ref_zlib_compress(in, cap, out) : ref_zstd_compress(in, cap, out);
}
bool ref_decompress(ClusterCompression t, const Bytes& in, Bytes& out) {
    return t == ClusterCompression::zlib ? ref_zlib_decompress(in, out) : ref_zstd_decompress(in, out);
}

// ---- test data -----------------------------------------------------------

// A cluster of mixed content: text-like runs, zeroes, repeats, noise.
Bytes mixed(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes b(n);
    static const char kWords[] = "qcow2 cluster zlib zstd grain sector table entry ";
    for (size_t i = 0; i < n;) {
        const size_t run = std::min<size_t>(n - i, 1 + rng() % 3000);
        switch (rng() % 4) {
        case 0:
            for (size_t k = 0; k < run; ++k) b[i + k] = uint8_t(kWords[(i + k) % (sizeof kWords - 1)]);
            break;
        case 1:
            break;  // zeroes
        case 2:
            for (size_t k = 0; k < run; ++k) b[i + k] = uint8_t(k % 7 == 0 ? rng() : b[i + k - (k ? 1 : 0)]);
            break;
        default:
            for (size_t k = 0; k < run; ++k) b[i + k] = uint8_t(rng());
        }
        i += run;
    }
    return b;
}

Bytes noise(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes b(n);
    for (auto& v : b) v = uint8_t(rng());
    return b;
}

// The stream as pieces of `piece` bytes (the last shorter).
class Pieces final : public formats::CompressedInput {
public:
    Pieces(const Bytes& b, size_t piece) : bytes_(b), piece_(piece) {}
    Status next(const uint8_t*& data, size_t& len) override {
        len = std::min(piece_, bytes_.size() - at_);
        data = bytes_.data() + at_;
        at_ += len;
        ++calls;
        return formats::kOk;
    }
    int calls = 0;

private:
    const Bytes& bytes_;
    size_t piece_;
    size_t at_ = 0;
};

// A codec's arena: its use must not grow after the codec is made.
struct CodecArena {
    explicit CodecArena(size_t n = 8u << 20) : mem(n), arena(mem.data(), mem.size()) {}
    Bytes mem;
    Arena arena;
};

const ClusterCompression kTypes[] = {ClusterCompression::zlib, ClusterCompression::zstd};
const char* name(ClusterCompression t) { return t == ClusterCompression::zlib ? "zlib" : "zstd"; }

// ---- compressing ----------------------------------------------------------

// Each cluster size, a run of clusters through one compressor: the bytes
// qemu's function makes from each, and "does not fit" where it says so
// (noise into cluster_size - 1 bytes, as qemu offers).
TEST(ClusterCompressor, MakesQemusBytes) {
    for (ClusterCompression t : kTypes) {
        for (size_t cluster : {size_t(512), size_t(4096), size_t(65536), size_t(2) << 20}) {
            SCOPED_TRACE(std::string(name(t)) + " cluster " + std::to_string(cluster));
            CodecArena a;
            formats::ClusterCompressor* c = nullptr;
            ASSERT_EQ(formats::make_cluster_compressor(t, a.arena, cluster, c), formats::kOk);
            const size_t used = a.arena.used();
            const int rounds = cluster > 65536 ? 4 : 12;
            for (int i = 0; i < rounds; ++i) {
                // Mostly whole clusters, as qemu compresses them; a few shorter.
                const size_t n = i % 5 == 4 ? cluster / 3 + 1 : cluster;
                const Bytes in = i % 3 == 2 ? noise(n, uint64_t(i)) : mixed(n, uint64_t(i));
                Bytes want, got(cluster - 1);
                const long r = ref_compress(t, in, cluster - 1, want);
                ASSERT_NE(r, -2);
                Compressed res{};
                ASSERT_EQ(c->compress(in.data(), in.size(), got.data(), got.size(), res), formats::kOk);
                ASSERT_EQ(res.fits, r >= 0) << "round " << i;
                if (res.fits) {
                    ASSERT_EQ(res.bytes, want.size()) << "round " << i;
                    EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin())) << "round " << i;
                }
            }
            EXPECT_EQ(a.arena.used(), used);
        }
    }
}

// What the compressor makes, the decompressor turns back into the cluster,
// and so does qemu's function.
TEST(ClusterCodecs, RoundTrip) {
    for (ClusterCompression t : kTypes) {
        for (size_t cluster : {size_t(512), size_t(65536), size_t(2) << 20}) {
            SCOPED_TRACE(std::string(name(t)) + " cluster " + std::to_string(cluster));
            CodecArena a;
            formats::ClusterCompressor* c = nullptr;
            formats::ClusterDecompressor* d = nullptr;
            ASSERT_EQ(formats::make_cluster_compressor(t, a.arena, cluster, c), formats::kOk);
            ASSERT_EQ(formats::make_cluster_decompressor(t, a.arena, d), formats::kOk);
            for (int i = 0; i < 3; ++i) {
                const Bytes in = mixed(cluster, 100 + uint64_t(i));
                Bytes z(ZSTD_compressBound(cluster) + 64);  // room for noise too
                Compressed res{};
                ASSERT_EQ(c->compress(in.data(), in.size(), z.data(), z.size(), res), formats::kOk);
                ASSERT_TRUE(res.fits);
                z.resize(res.bytes);
                Bytes out(cluster, 0xee), ref(cluster, 0xdd);
                Pieces p(z, cluster);
                ASSERT_EQ(d->decompress(p, out.data(), out.size()), formats::kOk);
                EXPECT_TRUE(out == in);
                ASSERT_TRUE(ref_decompress(t, z, ref));
                EXPECT_TRUE(ref == in);
            }
        }
    }
}

// ---- decompressing --------------------------------------------------------

// Streams to decode into one cluster: a qemu-made cluster with what may
// follow it in an image, and variations qemu accepts or refuses.
std::vector<std::pair<std::string, Bytes>> streams(ClusterCompression t, size_t cluster, uint64_t seed) {
    std::vector<std::pair<std::string, Bytes>> out;
    auto z = [&](const Bytes& in) {
        Bytes b;
        // Large enough for anything (zstd's bound covers zlib's).
        EXPECT_GE(ref_compress(t, in, ZSTD_compressBound(in.size()) + 64, b), 0);
        return b;
    };
    auto cat = [](Bytes a, const Bytes& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    const Bytes data = mixed(cluster, seed);
    const Bytes stream = z(data);
    out.push_back({"exact", stream});
    out.push_back({"zero_padding", cat(stream, Bytes(700, 0))});
    out.push_back({"garbage_after", cat(stream, noise(cluster + 300, seed))});
    out.push_back({"short_output", z(Bytes(data.begin(), data.begin() + long(cluster / 2)))});
    out.push_back({"long_output", cat(z(cat(data, data)), Bytes(100, 0))});
    out.push_back({"noise", noise(cluster, seed + 1)});
    out.push_back({"zeroes", Bytes(cluster, 0)});
    out.push_back({"empty", {}});
    // Two streams of half a cluster each: zstd frames follow one another;
    // a deflate stream ends with its first.
    const Bytes half1(data.begin(), data.begin() + long(cluster / 2)), half2(data.begin() + long(cluster / 2), data.end());
    out.push_back({"two_halves", cat(z(half1), z(half2))});
    if (t == ClusterCompression::zlib) {
        // The cluster in blocks that are not the last, then an empty stored
        // block (a sync flush): inflate reads on past the full output. A
        // last, empty, fixed block after it ends the stream well; a block
        // of the reserved type 3 is an error qemu's inflate finds.
        z_stream s{};
        deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY);
        Bytes flushed(ZSTD_compressBound(cluster) + 64);
        s.next_in = const_cast<Bytef*>(data.data());
        s.avail_in = uInt(data.size());
        s.next_out = flushed.data();
        s.avail_out = uInt(flushed.size());
        EXPECT_EQ(deflate(&s, Z_SYNC_FLUSH), Z_OK);
        flushed.resize(flushed.size() - s.avail_out);
        deflateEnd(&s);
        out.push_back({"flushed_then_end", cat(flushed, {0x03, 0x00})});
        out.push_back({"flushed_then_bad_block", cat(flushed, {0x07, 0x00})});
    }
    if (t == ClusterCompression::zstd) {
        // A skippable frame first (magic 0x184D2A50, 4-byte length).
        Bytes skip = {0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 1, 2, 3, 4, 5};
        out.push_back({"skippable_first", cat(skip, stream)});
        // zstd 1.5.4 writes no checksum by default: one with it, and damaged.
        ZSTD_CCtx* c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        Bytes ck(ZSTD_compressBound(cluster));
        ck.resize(ZSTD_compress2(c, ck.data(), ck.size(), data.data(), data.size()));
        ZSTD_freeCCtx(c);
        out.push_back({"checksum", ck});
        ck[ck.size() - 2] ^= 1;
        out.push_back({"checksum_damaged", ck});
        // No content size in the frame header, a small window.
        c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 10);
        Bytes unknown(ZSTD_compressBound(cluster) + 64);
        ZSTD_outBuffer o{unknown.data(), unknown.size(), 0};
        ZSTD_inBuffer i{data.data(), data.size(), 0};
        EXPECT_EQ(ZSTD_compressStream2(c, &o, &i, ZSTD_e_end), 0u);
        ZSTD_freeCCtx(c);
        unknown.resize(o.pos);
        out.push_back({"unknown_size_small_window", unknown});
    }
    return out;
}

// Damaged copies of a stream: cut short, bytes changed, bits flipped.
std::vector<Bytes> damaged(const Bytes& s, std::mt19937_64& rng, int n) {
    std::vector<Bytes> out;
    if (s.empty()) return out;
    for (int i = 0; i < n; ++i) {
        Bytes b = s;
        switch (i % 3) {
        case 0:
            b.resize(rng() % b.size());
            break;
        case 1:
            for (int k = 0, m = 1 + int(rng() % 4); k < m; ++k) b[rng() % b.size()] = uint8_t(rng());
            break;
        default:
            b[rng() % std::min<size_t>(b.size(), 64)] ^= uint8_t(1u << (rng() % 8));  // the headers
        }
        out.push_back(b);
    }
    return out;
}

// Every stream, whole and damaged, decoded in pieces of several sizes
// (down to a byte at a time): accepted exactly when qemu's function
// accepts it, with the same bytes.
TEST(ClusterDecompressor, AcceptsWhatQemuAccepts) {
    std::mt19937_64 rng(5);
    for (ClusterCompression t : kTypes) {
        for (size_t cluster : {size_t(512), size_t(65536)}) {
            CodecArena a;
            formats::ClusterDecompressor* d = nullptr;
            ASSERT_EQ(formats::make_cluster_decompressor(t, a.arena, d), formats::kOk);
            const size_t used = a.arena.used();
            int accepted = 0, refused = 0;
            for (uint64_t seed = 0; seed < 3; ++seed) {
                for (const auto& [what, stream] : streams(t, cluster, seed)) {
                    std::vector<Bytes> all = damaged(stream, rng, 30);
                    all.insert(all.begin(), stream);
                    for (size_t k = 0; k < all.size(); ++k) {
                        SCOPED_TRACE(std::string(name(t)) + " cluster " + std::to_string(cluster) + " " + what +
                                     (k ? " damaged #" + std::to_string(k) : ""));
                        Bytes want(cluster, 0);
                        const bool ok = ref_decompress(t, all[k], want);
                        ok ? ++accepted : ++refused;
                        for (size_t piece : {size_t(1), size_t(7), size_t(512), cluster, all[k].size() + 1}) {
                            if (piece == 1 && (cluster > 512 || k % 4)) continue;  // a byte at a time costs
                            Bytes got(cluster, 0xee);
                            Pieces p(all[k], piece);
                            const Status st = d->decompress(p, got.data(), got.size());
                            ASSERT_EQ(st, ok ? formats::kOk : Status::image_invalid) << "pieces of " << piece;
                            if (ok) {
                                ASSERT_TRUE(got == want) << "pieces of " << piece;
                            }
                        }
                    }
                }
            }
            EXPECT_EQ(a.arena.used(), used);
            // Both kinds were seen often.
            EXPECT_GT(accepted, 20);
            EXPECT_GT(refused, 100);
        }
    }
}

// The expected outcomes of a few streams, so that the references themselves
// are held to qemu's rules.
TEST(ClusterDecompressor, QemusRules) {
    const size_t cluster = 65536;
    for (ClusterCompression t : kTypes) {
        SCOPED_TRACE(name(t));
        CodecArena a;
        formats::ClusterDecompressor* d = nullptr;
        ASSERT_EQ(formats::make_cluster_decompressor(t, a.arena, d), formats::kOk);
        for (const auto& [what, stream] : streams(t, cluster, 9)) {
            SCOPED_TRACE(what);
            Bytes got(cluster);
            Pieces p(stream, 4096);
            const Status st = d->decompress(p, got.data(), got.size());
            // A deflate stream making more than a cluster is cut to it; a
            // zstd frame must end with the cluster. zstd frames follow one
            // another; a deflate stream is one.
            const bool ok = what == "exact" || what == "zero_padding" || what == "garbage_after" ||
                            (what == "long_output" && t == ClusterCompression::zlib) ||
                            (what == "two_halves" && t == ClusterCompression::zstd) || what == "skippable_first" ||
                            what == "checksum" || what == "unknown_size_small_window" ||
                            what == "flushed_then_end";
            EXPECT_EQ(st, ok ? formats::kOk : Status::image_invalid);
        }
    }
}

// A descriptor naming two clusters of bytes, the stream at their end (a
// deflate stream may begin with empty blocks): read in cluster-sized
// pieces, the decoder goes on into the second.
TEST(ClusterDecompressor, StreamLongerThanAPiece) {
    const size_t cluster = 4096;
    const Bytes data = mixed(cluster, 3);
    Bytes stream;
    // Empty stored blocks (BFINAL 0, BTYPE 00, LEN 0, NLEN 0xffff), byte aligned.
    for (int i = 0; i < 1500; ++i) stream.insert(stream.end(), {0x00, 0x00, 0x00, 0xff, 0xff});
    Bytes tail;
    ASSERT_GT(ref_zlib_compress(data, 2 * cluster, tail), 0);
    stream.insert(stream.end(), tail.begin(), tail.end());
    ASSERT_GT(stream.size(), cluster);
    Bytes want(cluster);
    ASSERT_TRUE(ref_zlib_decompress(stream, want));
    CodecArena a;
    formats::ClusterDecompressor* d = nullptr;
    ASSERT_EQ(formats::make_cluster_decompressor(ClusterCompression::zlib, a.arena, d), formats::kOk);
    Bytes got(cluster);
    Pieces p(stream, cluster);
    ASSERT_EQ(d->decompress(p, got.data(), got.size()), formats::kOk);
    EXPECT_TRUE(got == data);
    EXPECT_GE(p.calls, 2);
}

// zstd's pre-1.0 frames (magic 0xFD2FB525-7), which qemu's libzstd decodes
// with decoders that allocate on their own: refused as unsupported.
TEST(ClusterDecompressor, LegacyZstdFramesUnsupported) {
    CodecArena a;
    formats::ClusterDecompressor* d = nullptr;
    ASSERT_EQ(formats::make_cluster_decompressor(ClusterCompression::zstd, a.arena, d), formats::kOk);
    for (uint8_t v : {0x25, 0x26, 0x27}) {
        Bytes stream = noise(300, v);
        stream[0] = v;
        stream[1] = 0xb5;
        stream[2] = 0x2f;
        stream[3] = 0xfd;
        Bytes out(4096);
        Pieces p(stream, 4096);
        EXPECT_EQ(d->decompress(p, out.data(), out.size()), Status::unsupported_feature) << int(v);
    }
}

// A failure of the input ends decoding with that failure.
TEST(ClusterDecompressor, InputFailurePassedOn) {
    class Failing final : public formats::CompressedInput {
    public:
        Status next(const uint8_t*&, size_t&) override { return Status::read_failed; }
    };
    for (ClusterCompression t : kTypes) {
        CodecArena a;
        formats::ClusterDecompressor* d = nullptr;
        ASSERT_EQ(formats::make_cluster_decompressor(t, a.arena, d), formats::kOk);
        Failing in;
        Bytes out(4096);
        EXPECT_EQ(d->decompress(in, out.data(), out.size()), Status::read_failed);
    }
}

// Too small an arena: out_of_memory, nothing made.
TEST(ClusterCodecs, ArenaTooSmall) {
    for (ClusterCompression t : kTypes) {
        Bytes mem(4096);
        Arena arena(mem.data(), mem.size());
        formats::ClusterDecompressor* d = nullptr;
        formats::ClusterCompressor* c = nullptr;
        EXPECT_EQ(formats::make_cluster_decompressor(t, arena, d), Status::out_of_memory);
        EXPECT_EQ(d, nullptr);
        EXPECT_EQ(formats::make_cluster_compressor(t, arena, 65536, c), Status::out_of_memory);
        EXPECT_EQ(c, nullptr);
    }
}

// ---- vmdk grains ------------------------------------------------------------

// compress() itself is the reference: the same bytes, and "does not fit"
// where it fails.
TEST(GrainCompressor, MakesCompressBytes) {
    CodecArena a;
    formats::GrainCompressor* c = nullptr;
    ASSERT_EQ(formats::make_grain_compressor(a.arena, c), formats::kOk);
    const size_t used = a.arena.used();
    for (int i = 0; i < 12; ++i) {
        const size_t grain = i % 4 == 3 ? 4096 : 65536;
        const Bytes in = i % 3 == 2 ? noise(grain, uint64_t(i)) : mixed(grain, uint64_t(i));
        // vmdk offers two grains; less here too, so that some do not fit.
        const size_t cap = i % 2 ? 2 * grain : grain;
        Bytes want(cap), got(cap);
        uLongf want_len = cap;
        const int r = compress(want.data(), &want_len, in.data(), in.size());
        Compressed res{};
        ASSERT_EQ(c->compress(in.data(), in.size(), got.data(), got.size(), res), formats::kOk);
        ASSERT_EQ(res.fits, r == Z_OK) << i;
        if (res.fits) {
            ASSERT_EQ(res.bytes, size_t(want_len)) << i;
            EXPECT_TRUE(std::equal(want.begin(), want.begin() + long(want_len), got.begin())) << i;
        }
    }
    EXPECT_EQ(a.arena.used(), used);
}

// uncompress() itself is the reference: accepted exactly when it returns
// Z_OK, with the same bytes and length.
TEST(GrainDecompressor, AcceptsWhatUncompressAccepts) {
    std::mt19937_64 rng(11);
    CodecArena a;
    formats::GrainDecompressor* d = nullptr;
    ASSERT_EQ(formats::make_grain_decompressor(a.arena, d), formats::kOk);
    const size_t used = a.arena.used();
    const size_t grain = 65536;
    int accepted = 0, refused = 0;
    for (uint64_t seed = 0; seed < 4; ++seed) {
        const Bytes data = mixed(grain, seed);
        std::vector<Bytes> all;
        for (size_t n : {grain, grain / 3, 2 * grain}) {
            Bytes z(compressBound(uLong(n)));
            uLongf zl = z.size();
            Bytes src = n <= grain ? Bytes(data.begin(), data.begin() + long(n)) : mixed(n, seed + 50);
            ASSERT_EQ(compress(z.data(), &zl, src.data(), src.size()), Z_OK);
            z.resize(zl);
            all.push_back(z);
            Bytes tail = z;
            tail.insert(tail.end(), 300, 0x5a);
            all.push_back(tail);
            std::vector<Bytes> bad = damaged(z, rng, 30);
            all.insert(all.end(), bad.begin(), bad.end());
        }
        all.push_back(noise(1000, seed));
        for (size_t k = 0; k < all.size(); ++k) {
            SCOPED_TRACE("seed " + std::to_string(seed) + " stream " + std::to_string(k));
            Bytes want(grain, 0), got(grain, 0xee);
            uLongf want_len = grain;
            const int r = uncompress(want.data(), &want_len, all[k].data(), uLong(all[k].size()));
            size_t made = 0;
            const Status st = d->decompress(all[k].data(), all[k].size(), got.data(), got.size(), made);
            ASSERT_EQ(st, r == Z_OK ? formats::kOk : Status::image_invalid) << r;
            r == Z_OK ? ++accepted : ++refused;
            if (r == Z_OK) {
                ASSERT_EQ(made, size_t(want_len));
                EXPECT_TRUE(std::equal(want.begin(), want.begin() + long(made), got.begin()));
            }
        }
    }
    EXPECT_EQ(a.arena.used(), used);
    EXPECT_GT(accepted, 10);
    EXPECT_GT(refused, 100);
}

// The libraries linked are the ones the headers describe, and the ones
// qemu-img 7.2 on this system uses (Debian's zlib 1.2.13 and zstd 1.5.4):
// the encoders' byte-for-byte claims rest on it.
TEST(Compression, LibraryVersions) {
    EXPECT_STREQ(zlibVersion(), ZLIB_VERSION);
    EXPECT_EQ(ZSTD_versionNumber(), unsigned(ZSTD_VERSION_NUMBER));
    EXPECT_STREQ(ZLIB_VERSION, "1.2.13");
    EXPECT_EQ(ZSTD_VERSION_NUMBER, 10504);
}

}  // namespace
}  // namespace instar::testing
