"""Hostile disk images for test_adversarial.py, crafted at test time.

Each image starts as a real `qemu-img create` image (or a chain of them)
and then has exactly the damage its case names patched in with struct, so
that a case tests one thing. Only the standard library is used.

A builder takes the case's directory (the only directory instar may open
files in; its parent holds `x`, a file outside it) and returns a Crafted.
"""
import dataclasses
import os
import struct
import subprocess
from pathlib import Path
from typing import Callable, Optional

KiB, MiB = 1 << 10, 1 << 20
PiB = 1 << 50
U64_MAX = (1 << 64) - 1

# A file outside the case directory that a crafted name points at.
OUTSIDE = "x"


@dataclasses.dataclass
class Crafted:
    image: str                      # file name inside the case directory
    fmt: Optional[str]              # the format it claims to be (-f, -F); None: no format fits
    chain: bool = False             # names a backing file: also run --backing-chain
    name: Optional[bytes] = None    # a crafted name instar's human output escapes
    extra_formats: tuple = ()       # other formats to force with -f (polyglots)
    # Its backing chain loops: qemu-img 7.2 create -b follows the loop
    # until memory runs out (still going after ten minutes at 2.3 GB), so
    # the suite does not run it there.
    loops: bool = False
    chain_error: Optional[str] = None  # words instar's --backing-chain error must contain
    copy: bool = False              # also `instar copy` it (bytes moved, never parsed)


@dataclasses.dataclass
class Case:
    id: str
    group: str
    build: Callable[[Path], Crafted]


CASES: list[Case] = []


def case(group, id_):
    def register(fn):
        CASES.append(Case(id_, group, fn))
        return fn
    return register


# --- generic helpers ---------------------------------------------------------

def qemu_img(d, *args):
    subprocess.run(["qemu-img", *map(str, args)], check=True, cwd=d, capture_output=True)


def qemu_create(d, name, fmt, size="1G", *opts, backing=None, backing_fmt=None, unsafe=False):
    args = ["create", "-q", "-f", fmt, *opts]
    if backing is not None:
        args += ["-b", backing, "-F", backing_fmt or fmt] + (["-u"] if unsafe else [])
    qemu_img(d, *args, name, size)
    return d / name


def patch(path, offset, fmt, *values):
    """Writes struct-packed values at offset (extending the file if needed)."""
    data = struct.pack(fmt, *values)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def write_at(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def unpack(path, offset, fmt):
    with open(path, "rb") as f:
        f.seek(offset)
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))


def truncated(src: Path, dst: Path, length):
    with open(src, "rb") as f:
        dst.write_bytes(f.read(length))
    return dst


def escape_like_instar(name: bytes) -> bytes:
    """How instar's human output shows an untrusted name (docs/info.md)."""
    return b"".join(bytes([c]) if 0x20 <= c < 0x7f and c != 0x5c else b"\\x%02x" % c for c in name)


# --- qcow2 -------------------------------------------------------------------

class Q:
    """qcow2 header fields (docs/interop/qcow2.txt), big-endian."""
    backing_file_offset, backing_file_size, cluster_bits, size = 8, 16, 20, 24
    l1_size, l1_table_offset = 36, 40
    refcount_table_offset, refcount_table_clusters = 48, 56
    nb_snapshots, snapshots_offset = 60, 64
    refcount_order, header_length = 96, 100
    ext_backing_format = 0xE2792ACA


def qcow2_set_backing_name(path, name: bytes, at=0x1000):
    """Points the header at a backing file name stored at `at` (inside the
    first cluster, past any extensions): arbitrary bytes, any length."""
    write_at(path, at, name)
    patch(path, Q.backing_file_offset, ">QI", at, len(name))


def qcow2_with_backing(d, name, backing: bytes, size="64M"):
    """A qcow2 v3 image with a backing-format extension naming qcow2 and
    `backing` as its backing file name."""
    qemu_create(d, name, "qcow2", size, backing="placeholder.qcow2", backing_fmt="qcow2", unsafe=True)
    qcow2_set_backing_name(d / name, backing)
    return d / name


def set_backing(d, image, backing):
    qemu_img(d, "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", backing, image)


def chain_of(d, names, size="64M"):
    """names[0] <- names[1] <- ...: each image the backing file of the next."""
    qemu_create(d, names[0], "qcow2", size)
    for parent, child in zip(names, names[1:]):
        qemu_create(d, child, "qcow2", size, backing=parent, backing_fmt="qcow2", unsafe=True)


# --- vmdk --------------------------------------------------------------------

class V:
    """Sparse vmdk header fields (VMware's "Virtual Disk Format 1.1"), little-endian."""
    capacity, granularity, desc_offset, desc_size = 12, 20, 28, 36
    num_gtes_per_gt, rgd_offset, gd_offset = 44, 48, 56


def vmdk_descriptor(path) -> bytes:
    desc_sector, desc_sectors = unpack(path, V.desc_offset, "<QQ")
    with open(path, "rb") as f:
        f.seek(desc_sector * 512)
        return f.read(desc_sectors * 512).rstrip(b"\0")


def vmdk_set_descriptor(path, text: bytes):
    """Rewrites the embedded descriptor in place (it must fit its sectors)."""
    desc_sector, desc_sectors = unpack(path, V.desc_offset, "<QQ")
    room = desc_sectors * 512
    assert len(text) <= room, "descriptor does not fit"
    write_at(path, desc_sector * 512, text.ljust(room, b"\0"))


def vmdk_replace(path, old: bytes, new: bytes):
    text = vmdk_descriptor(path)
    assert old in text, old
    vmdk_set_descriptor(path, text.replace(old, new))


def vmdk_with_parent(d, name, parent_hint: bytes):
    qemu_create(d, "parent.vmdk", "vmdk", "64M")
    qemu_create(d, name, "vmdk", "64M", backing="parent.vmdk", backing_fmt="vmdk")
    vmdk_replace(d / name, b'parentFileNameHint="parent.vmdk"', b'parentFileNameHint="' + parent_hint + b'"')
    return d / name


def vmdk_text_descriptor(extents: bytes, padding: int = 0) -> bytes:
    return (b"# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
            b'createType="monolithicFlat"\n' + b"#" * padding + b"\n" + extents +
            b'\nddb.virtualHWVersion = "4"\nddb.adapterType = "ide"\n')


# --- vpc ---------------------------------------------------------------------

class P:
    """vpc footer and dynamic header fields (Microsoft's VHD specification), big-endian."""
    data_offset, orig_size, current_size, disk_type, checksum = 16, 40, 48, 60, 64
    dyn_table_offset, dyn_max_table_entries, dyn_block_size, dyn_checksum = 16, 28, 32, 36


def vpc_checksum(block: bytes, at: int) -> int:
    return ~sum(block[:at] + b"\0\0\0\0" + block[at + 4:]) & 0xFFFFFFFF


def vpc_fix_footer(path, offset):
    footer = bytearray(Path(path).read_bytes()[offset:offset + 512])
    patch(path, offset + P.checksum, ">I", vpc_checksum(footer, P.checksum))


def vpc_fix_footers(path):
    """Recomputes the checksum of the footer at the end and of its copy at 0."""
    size = os.path.getsize(path)
    vpc_fix_footer(path, size - 512)
    if unpack(path, 0, "8s")[0] == b"conectix" and size > 512:
        vpc_fix_footer(path, 0)


def vpc_patch_footers(path, offset, fmt, *values, fix=True):
    """The same change to both footers of a dynamic image (the end one only
    for a fixed one)."""
    size = os.path.getsize(path)
    patch(path, size - 512 + offset, fmt, *values)
    if unpack(path, 0, "8s")[0] == b"conectix" and size > 512:
        patch(path, offset, fmt, *values)
    if fix:
        vpc_fix_footers(path)


def vpc_dyn_header_offset(path):
    return unpack(path, P.data_offset, ">Q")[0]


def vpc_patch_dyn(path, offset, fmt, *values, fix=True):
    at = vpc_dyn_header_offset(path)
    patch(path, at + offset, fmt, *values)
    if fix:
        header = Path(path).read_bytes()[at:at + 1024]
        patch(path, at + P.dyn_checksum, ">I", vpc_checksum(header, P.dyn_checksum))


# --- vhdx --------------------------------------------------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class X:
    """vhdx structures ([MS-VHDX]), little-endian."""
    headers = (0x10000, 0x20000)
    header_bytes = 4096
    regions = (0x30000, 0x40000)
    region_bytes = 0x10000
    h_sequence, h_log_guid, h_log_offset = 8, 48, 72
    bat_guid = bytes.fromhex("6677c22d23f600429d64115e9bfd4a08")
    metadata_guid = bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e")
    virtual_disk_size_guid = bytes.fromhex("2442a52f1bcd7648b2115dbed83bf4b8")


def vhdx_fix_checksum(path, offset, length):
    block = bytearray(Path(path).read_bytes()[offset:offset + length])
    block[4:8] = b"\0\0\0\0"
    patch(path, offset + 4, "<I", crc32c(bytes(block)))


def vhdx_patch_headers(path, offset, fmt, *values, which=(0, 1), fix=True):
    for i in which:
        patch(path, X.headers[i] + offset, fmt, *values)
        if fix:
            vhdx_fix_checksum(path, X.headers[i], X.header_bytes)


def vhdx_region(path, guid):
    """(entry offset in region table 1, file offset, length) of a region."""
    count = unpack(path, X.regions[0] + 8, "<I")[0]
    for i in range(min(count, 64)):
        entry = X.regions[0] + 16 + 32 * i
        g, offset, length = unpack(path, entry, "<16sQI")
        if g == guid:
            return entry - X.regions[0], offset, length
    raise KeyError(guid.hex())


def vhdx_patch_regions(path, offset_in_table, fmt, *values):
    for table in X.regions:
        patch(path, table + offset_in_table, fmt, *values)
        vhdx_fix_checksum(path, table, X.region_bytes)


def vhdx_metadata_item(path, guid):
    """(file offset of its table entry, file offset of its data)."""
    _, meta, _ = vhdx_region(path, X.metadata_guid)
    count = unpack(path, meta + 10, "<H")[0]
    for i in range(min(count, 2047)):
        entry = meta + 32 + 32 * i
        g, offset = unpack(path, entry, "<16sI")
        if g == guid:
            return entry, meta + offset
    raise KeyError(guid.hex())


# --- the cases -----------------------------------------------------------------
#
# Truncated headers: each format cut inside its first structures. A cut
# image is a different file with the same damage, so each cut is its own case.

TRUNCATIONS = {
    # (format, qemu-img options): cut points
    ("qcow2", "compat=0.10"): [0, 3, 4, 8, 20, 48, 71, 72],
    ("qcow2", "compat=1.1"): [4, 20, 71, 99, 104, 111, 112, 200, 0x10000, 0x20008],
    ("vmdk", "subformat=monolithicSparse"): [4, 12, 76, 511, 512, 700, 10752, 0x4b000],
    ("vmdk", "subformat=streamOptimized"): [4, 76, 512, 700, 10752],
    ("vpc", "subformat=dynamic"): [8, 64, 511, 512, 1024, 1536, 2000],
    ("vhdx", "subformat=dynamic"): [4, 8, 0x10000, 0x10100, 0x20000, 0x30000, 0x30010, 0x200000, 0x300040],
}


def _truncation_case(fmt, opts, cut):
    def build(d):
        qemu_create(d, "full", fmt, "1G", "-o", opts)
        truncated(d / "full", d / f"cut.{fmt}", cut)
        os.unlink(d / "full")
        return Crafted(f"cut.{fmt}", fmt)
    return build


for (fmt, opts), cuts in TRUNCATIONS.items():
    sub = opts.split("=")[1].replace(".", "")
    for cut in cuts:
        CASES.append(Case(f"truncated-{fmt}-{sub}-at-{cut:#x}", "truncated", _truncation_case(fmt, opts, cut)))


def _vpc_fixed_cut(keep):
    def build(d):
        qemu_create(d, "full", "vpc", "16M", "-o", "subformat=fixed")
        size = os.path.getsize(d / "full")
        truncated(d / "full", d / "cut.vpc", size - 512 + keep)
        os.unlink(d / "full")
        return Crafted("cut.vpc", "vpc")
    return build


# A fixed vpc has its only footer at the end: the file ends inside it.
for keep in (8, 64, 511):
    CASES.append(Case(f"truncated-vpc-fixed-footer-{keep}", "truncated", _vpc_fixed_cut(keep)))


# Virtual sizes of 1 PiB and 2^64-1 in each format's size field.

def _size_case(fmt, value):
    def build(d):
        if fmt == "qcow2":
            p = qemu_create(d, "big.qcow2", "qcow2", "1G")
            patch(p, Q.size, ">Q", value)
        elif fmt == "qcow2-v2":
            p = qemu_create(d, "big.qcow2", "qcow2", "1G", "-o", "compat=0.10")
            patch(p, Q.size, ">Q", value)
        elif fmt in ("vmdk", "vmdk-stream"):
            opts = ["-o", "subformat=streamOptimized"] if fmt == "vmdk-stream" else []
            p = qemu_create(d, "big.vmdk", "vmdk", "1G", *opts)
            patch(p, V.capacity, "<Q", value // 512 if value != U64_MAX else value)
        elif fmt in ("vpc", "vpc-fixed"):
            sub = "fixed" if fmt == "vpc-fixed" else "dynamic"
            size = "16M" if sub == "fixed" else "1G"
            # force_size: qemu takes the size field, not the CHS geometry.
            p = qemu_create(d, "big.vpc", "vpc", size, "-o", f"subformat={sub},force_size=on")
            vpc_patch_footers(p, P.current_size, ">Q", value)
        elif fmt in ("vhdx", "vhdx-fixed"):
            opts = ["-o", "subformat=fixed"] if fmt == "vhdx-fixed" else []
            p = qemu_create(d, "big.vhdx", "vhdx", "16M" if opts else "1G", *opts)
            _, data = vhdx_metadata_item(p, X.virtual_disk_size_guid)
            patch(p, data, "<Q", value)
        return Crafted(p.name, fmt.split("-")[0])
    return build


for fmt in ("qcow2", "qcow2-v2", "vmdk", "vmdk-stream", "vpc", "vpc-fixed", "vhdx", "vhdx-fixed"):
    for label, value in (("1PiB", PiB), ("2^64-1", U64_MAX)):
        CASES.append(Case(f"size-{fmt}-{label}", "virtual size", _size_case(fmt, value)))


@case("virtual size", "size-qcow2-1PiB-made-by-qemu")
def _(d):
    # A 1 PiB image qemu-img makes itself: a 16 MiB L1 table.
    qemu_create(d, "big.qcow2", "qcow2", "1P")
    return Crafted("big.qcow2", "qcow2")


# qcow2 header fields

def _qcow2(d, name="img.qcow2", *opts, size="64M"):
    return qemu_create(d, name, "qcow2", size, *opts)


def _qcow2_patch(id_, offset, fmt, *values, opts=()):
    @case("qcow2", id_)
    def build(d):
        p = _qcow2(d, "img.qcow2", *opts)
        patch(p, offset, fmt, *values)
        return Crafted(p.name, "qcow2")


_qcow2_patch("qcow2-cluster-bits-8", Q.cluster_bits, ">I", 8)
_qcow2_patch("qcow2-cluster-bits-22", Q.cluster_bits, ">I", 22)
_qcow2_patch("qcow2-cluster-bits-2^32-1", Q.cluster_bits, ">I", 0xFFFFFFFF)
_qcow2_patch("qcow2-refcount-order-7", Q.refcount_order, ">I", 7)
_qcow2_patch("qcow2-l1-table-beyond-eof", Q.l1_table_offset, ">Q", 1 << 40)
_qcow2_patch("qcow2-l1-table-unaligned", Q.l1_table_offset, ">Q", 0x30001)
_qcow2_patch("qcow2-refcount-table-beyond-eof", Q.refcount_table_offset, ">Q", 1 << 40)
_qcow2_patch("qcow2-refcount-table-clusters-2^32-1", Q.refcount_table_clusters, ">I", 0xFFFFFFFF)
_qcow2_patch("qcow2-refcount-table-clusters-0", Q.refcount_table_clusters, ">I", 0)
# l1_size * 8 wraps in 32 bits; over qemu's 32 MiB cap; the end past 2^63.
_qcow2_patch("qcow2-l1-size-2^32-1", Q.l1_size, ">I", 0xFFFFFFFF)
_qcow2_patch("qcow2-l1-size-2^29", Q.l1_size, ">I", 1 << 29)
_qcow2_patch("qcow2-l1-size-over-cap", Q.l1_size, ">I", (32 * MiB // 8) + 1)
_qcow2_patch("qcow2-l1-end-past-2^63", Q.l1_table_offset, ">Q", (1 << 63) - 0x10000)
_qcow2_patch("qcow2-l1-size-too-small", Q.l1_size, ">I", 0)
_qcow2_patch("qcow2-snapshot-table-beyond-eof", Q.nb_snapshots, ">IQ", 1, 1 << 40)
# 65 entries: one more than instar's result holds (qemu allows 65536).
_qcow2_patch("qcow2-nb-snapshots-65", Q.nb_snapshots, ">IQ", 65, 0x30000)
_qcow2_patch("qcow2-nb-snapshots-65537", Q.nb_snapshots, ">IQ", 65537, 0x30000)
_qcow2_patch("qcow2-nb-snapshots-2^32-1", Q.nb_snapshots, ">IQ", 0xFFFFFFFF, 0x30000)
_qcow2_patch("qcow2-header-length-2^32-1", Q.header_length, ">I", 0xFFFFFFFF)
_qcow2_patch("qcow2-backing-offset-past-cluster", Q.backing_file_offset, ">QI", 0x10001, 8)
_qcow2_patch("qcow2-version-4", 4, ">I", 4)
_qcow2_patch("qcow2-unknown-incompatible-bit", 72, ">Q", 1 << 40)


def _qcow2_extension(id_, ext_type, length, payload=b""):
    @case("qcow2", id_)
    def build(d):
        p = _qcow2(d)
        # The first extension (qemu's feature-name table) gets a hostile length.
        header_length = unpack(p, Q.header_length, ">I")[0]
        patch(p, header_length, ">II", ext_type, length)
        if payload:
            write_at(p, header_length + 8, payload)
        return Crafted(p.name, "qcow2")


_qcow2_extension("qcow2-extension-length-2^32-1", 0x6803F857, 0xFFFFFFFF)
_qcow2_extension("qcow2-extension-length-wraps-when-aligned", 0x6803F857, 0xFFFFFFF9)
_qcow2_extension("qcow2-extension-length-past-cluster", 0x6803F857, 0x10000)
_qcow2_extension("qcow2-backing-format-extension-2^32-1", Q.ext_backing_format, 0xFFFFFFFF)
_qcow2_extension("qcow2-backing-format-extension-too-long", Q.ext_backing_format, 64, b"q" * 64)
_qcow2_extension("qcow2-data-file-extension-past-cluster", 0x44415441, 0xFFF0)


@case("qcow2", "qcow2-extensions-endless-chain-of-empty")
def _(d):
    # 8-byte extensions of an unknown type fill the first cluster: the walk
    # must end at the cluster's end.
    p = _qcow2(d)
    write_at(p, 112, struct.pack(">II", 0x12345678, 0) * ((0x10000 - 112) // 8))
    return Crafted(p.name, "qcow2")


@case("qcow2", "qcow2-compressed-cluster-past-eof")
def _(d):
    # A compressed cluster whose descriptor points far past the end of the
    # file: info does not read data clusters; copy moves bytes unparsed.
    raw = d / "src.raw"
    raw.write_bytes(b"compressible " * (256 * KiB // 13))
    qemu_img(d, "convert", "-c", "-f", "raw", "-O", "qcow2", raw.name, "img.qcow2")
    os.unlink(raw)
    p = d / "img.qcow2"
    l1 = unpack(p, Q.l1_table_offset, ">Q")[0]
    l2 = unpack(p, l1, ">Q")[0] & 0x00FFFFFFFFFFFE00
    entry = unpack(p, l2, ">Q")[0]
    assert entry & (1 << 62), "the first cluster should be compressed"
    # cluster_bits 16: the host offset is the low 54 bits.
    patch(p, l2, ">Q", (entry & ~((1 << 54) - 1)) | ((1 << 50) + 7))
    return Crafted(p.name, "qcow2", copy=True)


@case("qcow2", "qcow2-snapshot-entry-sizes-past-eof")
def _(d):
    p = _qcow2(d)
    qemu_img(d, "snapshot", "-c", "s1", p.name)
    offset = unpack(p, Q.snapshots_offset, ">Q")[0]
    # extra_data_size, id_str_size, name_size all at their largest.
    patch(p, offset + 32, ">HH", 0xFFFF, 0xFFFF)
    patch(p, offset + 36, ">I", 0xFFFFFFFF)
    return Crafted(p.name, "qcow2")


# vmdk

def _vmdk(d, name="img.vmdk", *opts, size="64M"):
    return qemu_create(d, name, "vmdk", size, *opts)


def _vmdk_patch(id_, offset, fmt, *values, opts=()):
    @case("vmdk", id_)
    def build(d):
        p = _vmdk(d, "img.vmdk", *opts)
        patch(p, offset, fmt, *values)
        return Crafted(p.name, "vmdk")


_vmdk_patch("vmdk-grain-size-0", V.granularity, "<Q", 0)
_vmdk_patch("vmdk-grain-size-2^63", V.granularity, "<Q", 1 << 63)
_vmdk_patch("vmdk-grain-size-3", V.granularity, "<Q", 3)
_vmdk_patch("vmdk-stream-grain-size-2^63", V.granularity, "<Q", 1 << 63, opts=("-o", "subformat=streamOptimized"))
_vmdk_patch("vmdk-grain-directory-beyond-eof", V.gd_offset, "<Q", 1 << 40)
_vmdk_patch("vmdk-redundant-grain-directory-beyond-eof", V.rgd_offset, "<Q", 1 << 40)
_vmdk_patch("vmdk-grain-directory-offset-2^64-1", V.gd_offset, "<Q", U64_MAX)
_vmdk_patch("vmdk-gtes-per-gt-0", V.num_gtes_per_gt, "<I", 0)
_vmdk_patch("vmdk-gtes-per-gt-2^32-1", V.num_gtes_per_gt, "<I", 0xFFFFFFFF)
_vmdk_patch("vmdk-descriptor-offset-beyond-eof", V.desc_offset, "<Q", 1 << 40)
_vmdk_patch("vmdk-descriptor-size-2^64-1", V.desc_size, "<Q", U64_MAX)


@case("vmdk", "vmdk-embedded-descriptor-over-1MiB")
def _(d):
    # The descriptor moves to the end of the file and grows past 1 MiB.
    p = _vmdk(d)
    text = vmdk_descriptor(p)
    big = text.replace(b"# Extent description", b"#" * (MiB + 4096) + b"\n# Extent description")
    end = os.path.getsize(p)
    write_at(p, end, big.ljust((len(big) + 511) // 512 * 512, b"\0"))
    patch(p, V.desc_offset, "<QQ", end // 512, (len(big) + 511) // 512)
    return Crafted(p.name, "vmdk")


@case("vmdk", "vmdk-descriptor-file-over-1MiB")
def _(d):
    (d / "flat.img").write_bytes(b"\0" * 51200)
    p = d / "img.vmdk"
    p.write_bytes(vmdk_text_descriptor(b'RW 100 FLAT "flat.img" 0\n', padding=MiB + 100))
    return Crafted(p.name, "vmdk")


def _vmdk_extent_case(id_, line: bytes, embedded: bool):
    @case("vmdk", id_)
    def build(d):
        if embedded:
            # A monolithicSparse file whose own descriptor names another file.
            p = _vmdk(d)
            vmdk_replace(p, b'RW 131072 SPARSE "img.vmdk"', line)
        else:
            p = d / "img.vmdk"
            p.write_bytes(vmdk_text_descriptor(line + b"\n"))
        return Crafted(p.name, "vmdk")


for label, target in (("etc-passwd", b"/etc/passwd"), ("dotdot", b"../" + OUTSIDE.encode())):
    _vmdk_extent_case(f"vmdk-extent-flat-{label}", b'RW 100 FLAT "' + target + b'" 0', embedded=False)
    _vmdk_extent_case(f"vmdk-extent-sparse-{label}", b'RW 100 SPARSE "' + target + b'"', embedded=False)
    _vmdk_extent_case(f"vmdk-embedded-extent-{label}", b'RW 100 FLAT "' + target + b'" 0', embedded=True)


@case("vmdk", "vmdk-descriptor-no-nul-no-newline")
def _(d):
    # The descriptor fills its sectors with text and never ends a line.
    p = _vmdk(d)
    desc_sectors = unpack(p, V.desc_size, "<Q")[0]
    vmdk_set_descriptor(p, (vmdk_descriptor(p) + b"ddb.x = \"" + b"y" * (desc_sectors * 512))[: desc_sectors * 512])
    return Crafted(p.name, "vmdk")


# vpc

def _vpc(d, *opts, size="64M"):
    return qemu_create(d, "img.vpc", "vpc", size, *opts)


@case("vpc", "vpc-bat-beyond-eof")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_table_offset, ">Q", 1 << 40)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-bat-offset-2^64-1")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_table_offset, ">Q", U64_MAX)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-bad-footer-checksum")
def _(d):
    p = _vpc(d)
    vpc_patch_footers(p, P.checksum, ">I", 0x12345678, fix=False)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-fixed-bad-footer-checksum")
def _(d):
    p = _vpc(d, "-o", "subformat=fixed", size="16M")
    vpc_patch_footers(p, P.checksum, ">I", 0x12345678, fix=False)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-bad-dynamic-header-checksum")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_checksum, ">I", 0x12345678, fix=False)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-max-table-entries-2^32-1")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_max_table_entries, ">I", 0xFFFFFFFF)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-max-table-entries-2^22")
def _(d):
    # A 16 MiB table past the end of the file, which qemu accepts.
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_max_table_entries, ">I", 1 << 22)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-max-table-entries-too-few")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_max_table_entries, ">I", 1)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-block-size-0")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_block_size, ">I", 0)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-block-size-2^31")
def _(d):
    p = _vpc(d)
    vpc_patch_dyn(p, P.dyn_block_size, ">I", 1 << 31)
    return Crafted(p.name, "vpc")


@case("vpc", "vpc-dynamic-header-beyond-eof")
def _(d):
    p = _vpc(d)
    vpc_patch_footers(p, P.data_offset, ">Q", 1 << 40)
    return Crafted(p.name, "vpc")


# vhdx

def _vhdx(d, *opts, size="64M"):
    return qemu_create(d, "img.vhdx", "vhdx", size, *opts)


@case("vhdx", "vhdx-headers-disagree-newer-has-bad-checksum")
def _(d):
    # Header 2 claims a later sequence number but its checksum is wrong:
    # header 1 must be used.
    p = _vhdx(d)
    seq = unpack(p, X.headers[0] + X.h_sequence, "<Q")[0]
    vhdx_patch_headers(p, X.h_sequence, "<Q", seq + 100, which=(1,), fix=False)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-headers-disagree-both-valid")
def _(d):
    # Both checksums right; the newer one has a different log offset.
    p = _vhdx(d)
    seq = unpack(p, X.headers[0] + X.h_sequence, "<Q")[0]
    vhdx_patch_headers(p, X.h_sequence, "<Q", seq + 100, which=(0,))
    vhdx_patch_headers(p, X.h_log_offset, "<Q", 0x500000, which=(0,))
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-headers-same-sequence")
def _(d):
    p = _vhdx(d)
    seq = unpack(p, X.headers[0] + X.h_sequence, "<Q")[0]
    vhdx_patch_headers(p, X.h_sequence, "<Q", seq)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-both-header-checksums-bad")
def _(d):
    p = _vhdx(d)
    vhdx_patch_headers(p, 4, "<I", 0, fix=False)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-region-tables-bad-checksums")
def _(d):
    p = _vhdx(d)
    for table in X.regions:
        patch(p, table + 4, "<I", 0)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-region-entries-overlap")
def _(d):
    p = _vhdx(d)
    bat_entry, bat_offset, _ = vhdx_region(p, X.bat_guid)
    meta_entry, _, _ = vhdx_region(p, X.metadata_guid)
    vhdx_patch_regions(p, meta_entry + 16, "<Q", bat_offset + MiB // 2)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-region-overlaps-headers")
def _(d):
    p = _vhdx(d)
    bat_entry, _, _ = vhdx_region(p, X.bat_guid)
    vhdx_patch_regions(p, bat_entry + 16, "<Q", 0)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-region-count-2^32-1")
def _(d):
    p = _vhdx(d)
    for table in X.regions:
        patch(p, table + 8, "<I", 0xFFFFFFFF)
        vhdx_fix_checksum(p, table, X.region_bytes)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-bat-beyond-eof")
def _(d):
    p = _vhdx(d)
    bat_entry, _, _ = vhdx_region(p, X.bat_guid)
    vhdx_patch_regions(p, bat_entry + 16, "<Q", 1 << 40)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-bat-length-too-small")
def _(d):
    p = _vhdx(d)
    bat_entry, _, _ = vhdx_region(p, X.bat_guid)
    vhdx_patch_regions(p, bat_entry + 24, "<I", MiB // 1024)
    return Crafted(p.name, "vhdx")


def _vhdx_metadata_case(id_, entry_field, fmt, value):
    @case("vhdx", id_)
    def build(d):
        p = _vhdx(d)
        entry, _ = vhdx_metadata_item(p, X.virtual_disk_size_guid)
        patch(p, entry + entry_field, fmt, value)
        return Crafted(p.name, "vhdx")


# Entry fields: item offset at 16, length at 20 (relative to the region).
_vhdx_metadata_case("vhdx-metadata-item-offset-past-region", 16, "<I", MiB)
_vhdx_metadata_case("vhdx-metadata-item-offset-2^32-1", 16, "<I", 0xFFFFFFFF)
_vhdx_metadata_case("vhdx-metadata-item-length-2^32-1", 20, "<I", 0xFFFFFFFF)
_vhdx_metadata_case("vhdx-metadata-item-in-table", 16, "<I", 32)


@case("vhdx", "vhdx-metadata-entry-count-2^16-1")
def _(d):
    p = _vhdx(d)
    _, meta, _ = vhdx_region(p, X.metadata_guid)
    patch(p, meta + 10, "<H", 0xFFFF)
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-log-guid-with-bogus-log")
def _(d):
    # A log GUID says the log must be replayed; the log region holds junk.
    p = _vhdx(d)
    log_offset = unpack(p, X.headers[0] + X.h_log_offset, "<Q")[0]
    write_at(p, log_offset, (b"loge" + os.urandom(4092)) * 16)
    vhdx_patch_headers(p, X.h_log_guid, "<16s", os.urandom(16))
    return Crafted(p.name, "vhdx")


@case("vhdx", "vhdx-log-offset-beyond-eof")
def _(d):
    p = _vhdx(d)
    vhdx_patch_headers(p, X.h_log_guid, "<16s", os.urandom(16))
    vhdx_patch_headers(p, X.h_log_offset, "<Q", 1 << 40)
    return Crafted(p.name, "vhdx")


# Polyglots: bytes that are two things at once.

@case("polyglot", "polyglot-qcow2-header-in-vmdk-descriptor")
def _(d):
    # The embedded descriptor of a sparse vmdk starts with a qcow2 header.
    p = _vmdk(d)
    q = _qcow2(d, "q.qcow2")
    desc_sector = unpack(p, V.desc_offset, "<Q")[0]
    write_at(p, desc_sector * 512, q.read_bytes()[:112])
    os.unlink(q)
    return Crafted(p.name, "vmdk", extra_formats=("qcow2",))


@case("polyglot", "polyglot-vmdk-descriptor-after-qcow2-header")
def _(d):
    # A qcow2 image whose extension area carries a vmdk descriptor naming
    # /etc/passwd as a flat extent.
    p = _qcow2(d, "img.qcow2", "-o", "compat=0.10")
    write_at(p, 0x200, vmdk_text_descriptor(b'RW 100 FLAT "/etc/passwd" 0\n'))
    return Crafted(p.name, "qcow2", extra_formats=("vmdk",))


@case("polyglot", "polyglot-vmdk-text-descriptor-then-qcow2")
def _(d):
    q = _qcow2(d, "q.qcow2")
    text = vmdk_text_descriptor(b'RW 100 FLAT "q.qcow2" 0\n').ljust(4096, b"\n")
    (d / "img.vmdk").write_bytes(text + q.read_bytes())
    return Crafted("img.vmdk", "vmdk", extra_formats=("qcow2",))


@case("polyglot", "polyglot-mbr-inside-qcow2")
def _(d):
    # A partition table in the first sector of a qcow2 v2 image (whose
    # header leaves bytes 446..511 unused).
    p = _qcow2(d, "img.qcow2", "-o", "compat=0.10")
    patch(p, 446 + 4, "B", 0x83)
    patch(p, 446 + 8, "<II", 2048, 4096)
    write_at(p, 510, b"\x55\xaa")
    return Crafted(p.name, "qcow2", extra_formats=("raw",))


@case("polyglot", "polyglot-vhdx-identifier-then-qcow2")
def _(d):
    # "vhdxfile", then a whole qcow2 image where the vhdx headers should be.
    q = _qcow2(d, "q.qcow2")
    (d / "img.vhdx").write_bytes(b"vhdxfile".ljust(0x10000, b"\0") + q.read_bytes())
    os.unlink(q)
    return Crafted("img.vhdx", "vhdx", extra_formats=("qcow2",))


@case("polyglot", "polyglot-qcow2-header-over-vhdx-header")
def _(d):
    # A vhdx whose first header is replaced by a qcow2 header: the second
    # header is still valid.
    p = _vhdx(d)
    q = _qcow2(d, "q.qcow2")
    write_at(p, X.headers[0], q.read_bytes()[:X.header_bytes])
    os.unlink(q)
    return Crafted(p.name, "vhdx", extra_formats=("qcow2",))


@case("polyglot", "polyglot-vpc-footer-after-qcow2")
def _(d):
    p = _qcow2(d)
    v = _vpc(d, "-o", "subformat=fixed", size="16M")
    with open(p, "ab") as f:
        f.write(v.read_bytes()[-512:])
    os.unlink(v)
    return Crafted(p.name, "qcow2", extra_formats=("vpc",))


# Backing chains

@case("chain", "chain-loop-self")
def _(d):
    chain_of(d, ["a.qcow2"])
    set_backing(d, "a.qcow2", "a.qcow2")
    return Crafted("a.qcow2", "qcow2", chain=True, loops=True, chain_error="infinite loop")


@case("chain", "chain-loop-2")
def _(d):
    chain_of(d, ["a.qcow2", "b.qcow2"])
    set_backing(d, "a.qcow2", "b.qcow2")
    return Crafted("b.qcow2", "qcow2", chain=True, loops=True, chain_error="infinite loop")


@case("chain", "chain-loop-3")
def _(d):
    chain_of(d, ["a.qcow2", "b.qcow2", "c.qcow2"])
    set_backing(d, "a.qcow2", "c.qcow2")
    return Crafted("c.qcow2", "qcow2", chain=True, loops=True, chain_error="infinite loop")


@case("chain", "chain-loop-through-dotdot")
def _(d):
    # The same file under another name: the loop is found by identity.
    (d / "sub").mkdir()
    chain_of(d, ["a.qcow2"])
    set_backing(d, "a.qcow2", "sub/../a.qcow2")
    return Crafted("a.qcow2", "qcow2", chain=True, loops=True, chain_error="infinite loop")


@case("chain", "chain-16-deep")
def _(d):
    names = [f"n{i:02}.qcow2" for i in range(16)]
    chain_of(d, names)
    return Crafted(names[-1], "qcow2", chain=True)


@case("chain", "chain-17-deep")
def _(d):
    names = [f"n{i:02}.qcow2" for i in range(17)]
    chain_of(d, names)
    return Crafted(names[-1], "qcow2", chain=True, chain_error="deeper than 16 images")


@case("chain", "chain-mixed-formats-vmdk-vpc-vhdx")
def _(d):
    # qcow2 on vmdk on qcow2 on vhdx: the backing format of each comes from
    # the image above it.
    qemu_create(d, "base.vhdx", "vhdx", "64M")
    qemu_create(d, "mid.qcow2", "qcow2", "64M", backing="base.vhdx", backing_fmt="vhdx")
    qemu_create(d, "low.vmdk", "vmdk", "64M")
    qemu_create(d, "top.qcow2", "qcow2", "64M", backing="low.vmdk", backing_fmt="vmdk")
    return Crafted("top.qcow2", "qcow2", chain=True)


@case("chain", "chain-backing-format-lies")
def _(d):
    # The backing format extension says vhdx; the backing file is qcow2.
    qemu_create(d, "base.qcow2", "qcow2", "64M")
    qemu_create(d, "top.qcow2", "qcow2", "64M", backing="base.qcow2", backing_fmt="vhdx", unsafe=True)
    return Crafted("top.qcow2", "qcow2", chain=True)


@case("chain", "chain-vmdk-parent-loop")
def _(d):
    qemu_create(d, "a.vmdk", "vmdk", "64M")
    qemu_create(d, "b.vmdk", "vmdk", "64M", backing="a.vmdk", backing_fmt="vmdk")
    desc = vmdk_descriptor(d / "a.vmdk")
    vmdk_set_descriptor(d / "a.vmdk", desc.replace(b'createType="monolithicSparse"\n',
                                                   b'createType="monolithicSparse"\nparentFileNameHint="b.vmdk"\n'))
    return Crafted("b.vmdk", "vmdk", chain=True, loops=True, chain_error="infinite loop")


# Backing file names. qcow2 names are written as bytes (qemu-img refuses
# some of them); vmdk parentFileNameHint holds the same.

NAMES = {
    "etc-passwd": b"/etc/passwd",
    "dotdot": b"../" + OUTSIDE.encode(),
    "dotdot-deep": b"../../../../../../../../etc/passwd",
    "http-url": b"http://127.0.0.1:1/disk.qcow2",
    "nbd-url": b"nbd://127.0.0.1:1/disk",
    "json-pseudo": b'json:{"file":{"driver":"file","filename":"/etc/passwd"}}',
    "file-protocol": b"file:/etc/passwd",
    "1023-bytes": b"n" * 1019 + b".img",
    "1024-bytes": b"n" * 1020 + b".img",
    "4KiB": b"n" * 4092 + b".img",
    "newline": b"a\nfile format: raw\nb",
    "terminal-escape": b"\x1b]0;owned\x07\x1b[2J\x1b[31mred",
    "invalid-utf8": b"\xff\xfe\xc3(\xed\xa0\x80.qcow2",
    "backslash": b"a\\x41b",
}


# Names that lead out of the case's directory.
OUTSIDE_NAMES = ("etc-passwd", "dotdot", "dotdot-deep")


def _qcow2_name_case(label, name):
    @case("backing name", f"backing-name-qcow2-{label}")
    def build(d):
        qcow2_with_backing(d, "img.qcow2", name)
        error = "not in an allowed directory" if label in OUTSIDE_NAMES else None
        return Crafted("img.qcow2", "qcow2", chain=True, name=name, chain_error=error)


def _vmdk_name_case(label, name):
    @case("backing name", f"backing-name-vmdk-{label}")
    def build(d):
        vmdk_with_parent(d, "img.vmdk", name)
        error = "not in an allowed directory" if label in OUTSIDE_NAMES else None
        return Crafted("img.vmdk", "vmdk", chain=True, name=name, chain_error=error)


for label, name in NAMES.items():
    _qcow2_name_case(label, name)
for label in ("etc-passwd", "dotdot", "json-pseudo", "4KiB", "newline", "terminal-escape", "invalid-utf8"):
    _vmdk_name_case(label, NAMES[label])


@case("backing name", "backing-name-qcow2-symlink-out")
def _(d):
    os.symlink("/etc/passwd", d / "link.img")
    qcow2_with_backing(d, "img.qcow2", b"link.img")
    return Crafted("img.qcow2", "qcow2", chain=True, chain_error="not in an allowed directory")


@case("backing name", "backing-name-qcow2-nul-inside")
def _(d):
    name = b"a.qcow2\0/etc/passwd"
    qcow2_with_backing(d, "img.qcow2", name)
    return Crafted("img.qcow2", "qcow2", chain=True)


@case("backing name", "backing-name-qcow2-data-file-etc-passwd")
def _(d):
    # An external data file is named, never opened by info.
    # A name as long as "/etc/passwd", replaced in place.
    qemu_create(d, "img.qcow2", "qcow2", "64M", "-o", "data_file=data_00.raw")
    os.unlink(d / "data_00.raw")
    p = d / "img.qcow2"
    header_length = unpack(p, Q.header_length, ">I")[0]
    offset = header_length
    while True:
        t, n = unpack(p, offset, ">II")
        if t in (0, 0x44415441):
            break
        offset += 8 + (n + 7) // 8 * 8
    assert t == 0x44415441
    write_at(p, offset + 8, b"/etc/passwd".ljust(n, b"\0"))
    return Crafted("img.qcow2", "qcow2")
