"""instar convert -O qcow2 against qemu-img convert 7.2: the same image,
byte for byte (cluster allocation order, L2 and refcount structures,
refcount table growth), the same progress and words; qemu-img check finds
it clean and compare finds it equal to the source."""
import os
import random

import pytest

from conftest import run
from imagecompare import first_difference, normalised
from test_convert import assert_same_allocation, both, mixed_raw, qemu_io

# qemu-img check says "This image format does not support checks" (exit 63).
NOT_CHECKED = {"vpc"}
# qemu's qcow2 driver zeroes each new cluster's copy-on-write areas with
# fallocate (handle_alloc_space), so its file has more blocks allocated
# for the same bytes (docs/quirks.md).
ALLOCATES_MORE = {"qcow2"}


def holey_raw(path, size, seed):
    """Data of every shape between holes: whole and partial clusters,
    runs of zeroes that are written (not holes), a partial last sector."""
    r = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(size)
        for _ in range(60):
            n = r.choice([512, 3 * 512, 4096, 60 * 1024, 64 * 1024, 200 * 1024, 1 << 20, 3 << 20])
            at = r.randrange(0, size - n) // 512 * 512
            f.seek(at)
            f.write(bytes(n) if r.randrange(5) == 0 else r.randbytes(n))


def assert_same_image(instar, qemu_img, tmp_path, args, sources, source_fmt=None, out_fmt="qcow2"):
    """convert -O OUT_FMT ARGS SOURCES with both tools: the same file (up
    to the random fields `create` masks too), the same allocation, the same
    output; qemu-img check (where it checks the format) and compare agree."""
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-O", out_fmt, *args], sources,
                                          name=f"out.{out_fmt}")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == b""
    a, b = normalised(out_fmt, o_out.read_bytes()), normalised(out_fmt, t_out.read_bytes())
    assert len(a) == len(b), (len(a), len(b))
    assert a == b, first_difference(a, b)
    if out_fmt not in ALLOCATES_MORE:
        assert_same_allocation(o_out, t_out)
    check = run([qemu_img, "check", "-f", out_fmt, o_out])
    assert check.returncode == (63 if out_fmt in NOT_CHECKED else 0), check.stdout + check.stderr
    if len(sources) == 1:
        fmt = ["-f", source_fmt] if source_fmt else []
        cmp = run([qemu_img, "compare", *fmt, "-F", out_fmt, sources[0], o_out])
        assert cmp.returncode == 0, cmp.stdout + cmp.stderr


@pytest.fixture(scope="module")
def holey(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "holey.raw"
    holey_raw(path, 96 << 20, 3)
    return path


OPTIONS = ["", "cluster_size=512", "cluster_size=4k", "cluster_size=2M", "compat=0.10", "refcount_bits=1",
           "refcount_bits=64", "extended_l2=on", "cluster_size=2M,extended_l2=on", "lazy_refcounts=on",
           "compression_type=zstd", "preallocation=metadata", "preallocation=falloc", "preallocation=full",
           "cluster_size=4k,preallocation=metadata",
           # A refcount block covers 64 clusters and the table grows many
           # times; data then lands on the clusters of replaced tables.
           "cluster_size=512,refcount_bits=64"]


@pytest.mark.parametrize("opts", OPTIONS, ids=[o or "default" for o in OPTIONS])
def test_raw_with_holes(instar, qemu_img, tmp_path, holey, opts):
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw"] + (["-o", opts] if opts else []), [holey], "raw")


@pytest.mark.parametrize("sparse", ["512", "4k", "64k", "1M", "16M"])
@pytest.mark.parametrize("opts", ["", "cluster_size=16k,extended_l2=on"])
def test_sparse_sizes(instar, qemu_img, tmp_path, holey, sparse, opts):
    args = ["-f", "raw", "-S", sparse] + (["-o", opts] if opts else [])
    assert_same_image(instar, qemu_img, tmp_path, args, [holey], "raw")


def written_qcow2(qemu_img, img, mib):
    """A qcow2 of `mib` MiB with data, data that is zeroes, zero clusters,
    two writes into one cluster, data mid-disk and in the last MiB."""
    assert run([qemu_img, "create", "-q", "-f", "qcow2", img, f"{mib}M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 0xaa 0 1M", "write -P 0 2M 1M", "write -z 4M 2M", "write -P 0x11 7M 4k",
            "write -P 0x12 7340544 4096", f"write -P 0x55 {mib * 100 // 256}M 3M", f"write -P 0x66 {mib - 1}M 1M")
    return img


@pytest.fixture
def small_qcow2_source(qemu_img, tmp_path):
    """32 MiB: -S 0 writes all of it, twice per test."""
    return written_qcow2(qemu_img, tmp_path / "small.qcow2", 32)


@pytest.mark.parametrize("opts", ["", "compat=0.10", "cluster_size=16k,extended_l2=on", "cluster_size=512"])
def test_fully_allocated(instar, qemu_img, tmp_path, small_qcow2_source, opts):
    """-S 0: qemu-img writes every zero as data, so every cluster is
    allocated, in qemu's order, with its progress."""
    assert_same_image(instar, qemu_img, tmp_path, ["-S", "0", "-p"] + (["-o", opts] if opts else []),
                      [small_qcow2_source])


def test_fully_allocated_and_compressed(instar, qemu_img, tmp_path, small_qcow2_source):
    assert_same_image(instar, qemu_img, tmp_path, ["-S", "0", "-c", "-p"], [small_qcow2_source])


def test_progress(instar, qemu_img, tmp_path, holey):
    assert_same_image(instar, qemu_img, tmp_path, ["-p", "-f", "raw"], [holey], "raw")


@pytest.fixture
def qcow2_source(qemu_img, tmp_path):
    return written_qcow2(qemu_img, tmp_path / "s.qcow2", 256)


@pytest.mark.parametrize("opts", ["", "cluster_size=4k", "extended_l2=on"])
def test_qcow2_source(instar, qemu_img, tmp_path, qcow2_source, opts):
    assert_same_image(instar, qemu_img, tmp_path, ["-o", opts] if opts else [], [qcow2_source])


def test_compressed_source(instar, qemu_img, tmp_path):
    src = tmp_path / "src.raw"
    mixed_raw(src, 12 << 20, 11)
    img = tmp_path / "c.qcow2"
    assert run([qemu_img, "convert", "-c", "-O", "qcow2", src, img]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, ["-o", "compression_type=zstd,cluster_size=8k"], [img])


@pytest.fixture
def chain_top(qemu_img, tmp_path):
    """A qcow2 over a qcow2 base: data in both, a zero write over the base's."""
    base = tmp_path / "b.qcow2"
    top = tmp_path / "t.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", base, "64M"]).returncode == 0
    qemu_io(qemu_img, base, "write -P 1 0 8M", "write -P 2 30M 1M")
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top, "64M"]).returncode == 0
    qemu_io(qemu_img, top, "write -P 3 1M 64k", "write -z 30M 512k")
    return top


def test_backing_chain_is_flattened(instar, qemu_img, tmp_path, chain_top):
    assert_same_image(instar, qemu_img, tmp_path, [], [chain_top])


def test_several_sources(instar, qemu_img, tmp_path, qcow2_source):
    small = tmp_path / "small.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", small, "1536"]).returncode == 0
    qemu_io(qemu_img, small, "write -P 0x99 512 512")
    assert_same_image(instar, qemu_img, tmp_path, [], [qcow2_source, small, qcow2_source])


@pytest.mark.parametrize("extra", [[], ["-S", "0"]])
def test_compressed_across_sources(instar, qemu_img, tmp_path, extra):
    """-c with sources that end mid-cluster: qemu-img compresses the
    cluster that straddles two sources as one, read from both."""
    small = tmp_path / "small.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", small, "1536"]).returncode == 0
    qemu_io(qemu_img, small, "write -P 0x99 512 512")
    raw = tmp_path / "odd.raw"
    mixed_raw(raw, (3 << 20) + 7 * 512, 12)
    odd = tmp_path / "odd.qcow2"
    assert run([qemu_img, "convert", "-f", "raw", "-O", "qcow2", raw, odd]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, ["-c", "-p", *extra], [small, odd, small])


@pytest.mark.parametrize("fmt,opts", [("vpc", "subformat=dynamic"), ("vhdx", "subformat=dynamic")])
def test_vpc_and_vhdx_sources(instar, qemu_img, tmp_path, fmt, opts):
    src = tmp_path / "src.raw"
    holey_raw(src, 48 << 20, 5)
    img = tmp_path / f"s.{fmt}"
    assert run([qemu_img, "convert", "-f", "raw", "-O", fmt, "-o", opts, src, img]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, [], [img], fmt)


@pytest.mark.parametrize("subformat", ["monolithicSparse", "streamOptimized"])
def test_vmdk_source(instar, qemu_img, tmp_path, subformat):
    src = tmp_path / "src.raw"
    holey_raw(src, 48 << 20, 8)
    img = tmp_path / "s.vmdk"
    assert run([qemu_img, "convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}", src, img]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, [], [img], "vmdk")
    assert_same_image(instar, qemu_img, tmp_path, ["-c"], [img], "vmdk")


def test_empty_vmdk_terabyte(instar, qemu_img, tmp_path):
    img = tmp_path / "e.vmdk"
    assert run([qemu_img, "create", "-q", "-f", "vmdk", img, "1T"]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, [], [img], "vmdk")


def test_empty_terabyte(instar, qemu_img, tmp_path):
    """Nothing is read or allocated for a disk of holes: an L1 table and
    nothing else, whatever the virtual size."""
    src = tmp_path / "empty.raw"
    with open(src, "wb") as f:
        f.truncate(1 << 40)
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw"], [src], "raw")


@pytest.fixture(scope="module")
def compressible(tmp_path_factory):
    """Text, noise (stored plain: it does not shrink), runs of one byte and
    zeroes, with holes, and a last cluster cut short."""
    path = tmp_path_factory.mktemp("src") / "mixed.raw"
    mixed_raw(path, (9 << 20) + 3 * 512, 21)
    with open(path, "r+b") as f:
        f.truncate((12 << 20) + 3 * 512)
    return path


COMPRESSED_OPTIONS = ["", "compression_type=zstd", "cluster_size=4k", "cluster_size=2M", "extended_l2=on",
                      "compat=0.10", "refcount_bits=1",
                      # Host clusters of 512 bytes shared by compressed
                      # clusters, and a refcount table that keeps growing.
                      "cluster_size=512", "cluster_size=512,refcount_bits=64", "cluster_size=1k,refcount_bits=2"]


@pytest.mark.parametrize("opts", COMPRESSED_OPTIONS, ids=[o or "default" for o in COMPRESSED_OPTIONS])
def test_compressed(instar, qemu_img, tmp_path, compressible, opts):
    """-c: qemu's deflate (or zstd) bytes, packed where qemu packs them,
    with the refcounts of shared host clusters."""
    args = ["-c", "-f", "raw"] + (["-o", opts] if opts else [])
    assert_same_image(instar, qemu_img, tmp_path, args, [compressible], "raw")


def test_compressed_from_qcow2_chain_with_progress(instar, qemu_img, tmp_path, chain_top):
    assert_same_image(instar, qemu_img, tmp_path, ["-c", "-p", "-S", "64k"], [chain_top])


def test_compression_with_preallocation_is_refused_as_qemu_does(instar, qemu_img, tmp_path, compressible):
    (theirs, _), (ours, o_out) = both(instar, qemu_img, tmp_path,
                                      ["-c", "-f", "raw", "-O", "qcow2", "-o", "preallocation=metadata"],
                                      [compressible], name="out.qcow2")
    assert theirs.returncode == ours.returncode == 1
    assert ours.stderr.decode() == theirs.stderr.decode().replace("qemu-img: ", "instar: convert: ", 1)
    assert not o_out.exists()


OPTION_ERRORS = ["foo=bar", "cluster_size=3000", "compat=0.9", "preallocation=bogus", "refcount_bits=3",
                 "extended_l2=on,cluster_size=4k", "cluster_size=512,extended_l2=on"]


@pytest.mark.parametrize("opts", OPTION_ERRORS)
def test_option_errors_in_qemus_words(instar, qemu_img, tmp_path, holey, opts):
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-f", "raw", "-O", "qcow2", "-o", opts],
                                          [holey], name="out.qcow2")
    assert theirs.returncode == ours.returncode == 1
    assert ours.stderr.decode() == theirs.stderr.decode().replace("qemu-img: ", "instar: convert: ", 1).replace(
        str(t_out), str(o_out))
    assert not o_out.exists()


@pytest.mark.parametrize("with_name", [True, False])
def test_option_help(instar, qemu_img, tmp_path, with_name):
    names = ["SRC", "OUT"] if with_name else []
    theirs = run([qemu_img, "convert", "-O", "qcow2", "-o", "help", *names])
    ours = run([instar, "convert", "-O", "qcow2", "-o", "help", *names])
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("args", [["-B", "base.qcow2"], ["-o", "backing_file=b,backing_fmt=raw"],
                                  ["-o", "preallocation=metadata,extended_l2=on"]])
def test_not_yet_refused_cleanly(instar, tmp_path, holey, args):
    """What is not built yet is refused in one line, leaving nothing."""
    out = tmp_path / "out.qcow2"
    r = run([instar, "convert", "-f", "raw", "-O", "qcow2", *args, holey, out])
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "not supported by instar" in r.stderr, r.stderr
    assert os.listdir(tmp_path) == []
