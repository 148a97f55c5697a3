"""instar convert against qemu-img convert 7.2: the same command to both,
the same output bytes, allocation (what `info` and `map` show of the
output), progress bytes, stdout, error line and exit status."""
import os
import random
import struct
import subprocess
import time

import pytest

from conftest import run


def qemu_io(qemu_img, image, *cmds, fmt="qcow2"):
    args = ["qemu-io", "-f", fmt]
    for c in cmds:
        args += ["-c", c]
    r = run(args + [image])
    assert r.returncode == 0, r.stderr


def blocks(path):
    os.sync()
    return os.stat(path).st_blocks


def assert_same_allocation(ours, theirs):
    """The same blocks allocated, up to ext4's own metadata (an extent
    index block qemu's write pattern may need and ours not)."""
    assert abs(blocks(ours) - blocks(theirs)) <= 8, (blocks(ours), blocks(theirs))


def qemu_map(qemu_img, path):
    r = run([qemu_img, "map", "--output=json", "-f", "raw", path])
    assert r.returncode == 0, r.stderr
    return r.stdout


def both(instar, qemu_img, tmp_path, args, sources, name="out.raw", **kw):
    """Runs `convert ARGS SOURCES OUT` with each tool; returns the two
    results and output paths."""
    outs = []
    for tool, d in ((qemu_img, "theirs"), (instar, "ours")):
        (tmp_path / d).mkdir(exist_ok=True)
        out = tmp_path / d / name
        r = run([tool, "convert", *args, *sources, out], text=False, **kw)
        outs.append((r, out))
    return outs


def assert_same_output(instar, qemu_img, tmp_path, args, sources):
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, args, sources)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == b""
    assert o_out.read_bytes() == t_out.read_bytes()
    assert_same_allocation(o_out, t_out)
    assert qemu_map(qemu_img, o_out) == qemu_map(qemu_img, t_out)


@pytest.fixture
def mixed_qcow2(qemu_img, tmp_path):
    """Data, a zero cluster, data that is zeroes, a partial cluster, and
    unallocated space."""
    img = tmp_path / "mixed.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", img, "64M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 0x11 1M 1M", "write -z 4M 1M", "write -P 0 8M 64k",
            "write -P 0x22 10M 3k", "write -P 0x33 63M 1M")
    return img


@pytest.mark.parametrize("sparse", [None, "0", "512", "4k", "64k", "16M"])
def test_qcow2_to_raw_matches_qemu(instar, qemu_img, tmp_path, mixed_qcow2, sparse):
    args = ["-O", "raw"] + (["-S", sparse] if sparse else [])
    assert_same_output(instar, qemu_img, tmp_path, args, [mixed_qcow2])


def test_progress_is_qemus(instar, qemu_img, tmp_path, mixed_qcow2):
    assert_same_output(instar, qemu_img, tmp_path, ["-p", "-O", "raw"], [mixed_qcow2])


def test_progress_of_a_large_raw_source(instar, qemu_img, tmp_path):
    src = tmp_path / "src.raw"
    src.write_bytes(os.urandom(1 << 20) * 30)
    assert_same_output(instar, qemu_img, tmp_path, ["-p", "-f", "raw", "-O", "raw"], [src])


def test_quiet_wins_over_progress(instar, qemu_img, tmp_path, mixed_qcow2):
    assert_same_output(instar, qemu_img, tmp_path, ["-p", "-q", "-O", "raw"], [mixed_qcow2])


@pytest.mark.parametrize("opts", ["compat=0.10", "cluster_size=512", "cluster_size=2M", "extended_l2=on"])
def test_qcow2_variants(instar, qemu_img, tmp_path, opts):
    img = tmp_path / "v.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-o", opts, img, "40M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 0x5a 0 3M", "write -z 5M 2M", "write -P 0x6b 7M 4k", "write -P 0 20M 1M")
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw"], [img])


def test_backing_chain(instar, qemu_img, tmp_path):
    base = tmp_path / "base.raw"
    base.write_bytes(os.urandom(1 << 20) * 3 + b"\0" * (1 << 20) * 5)
    mid = tmp_path / "mid.qcow2"
    top = tmp_path / "top.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", mid, "8M"]).returncode == 0
    qemu_io(qemu_img, mid, "write -P 0x44 1M 512k", "write -z 2M 64k")
    # The top is longer than its backing file: the rest reads as zeroes.
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top, "12M"]).returncode == 0
    qemu_io(qemu_img, top, "write -P 0x55 1536k 8k", "write -P 0x66 9M 4k")
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw"], [top])


def test_several_sources_are_concatenated(instar, qemu_img, tmp_path, mixed_qcow2):
    # (A raw file without a partition table needs -f raw in instar, which
    # would then apply to every source: issue 15.)
    small = tmp_path / "small.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", small, "1536"]).returncode == 0
    qemu_io(qemu_img, small, "write -P 0x99 512 512")
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw"], [mixed_qcow2, small, mixed_qcow2])


def cached_bytes(path):
    """How much of the file the page cache holds (util-linux fincore)."""
    r = run(["fincore", "--bytes", "--noheadings", "--output", "RES", path])
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


@pytest.mark.parametrize("out_fmt", ["raw", "qcow2"])
def test_cache_none_bypasses_the_page_cache(instar, qemu_img, tmp_path, out_fmt):
    """-t none writes with O_DIRECT, as qemu's cache=none: the same file,
    but (unlike the default, unsafe) none of it left in the page cache."""
    src = tmp_path / "src.raw"
    mixed_raw(src, 16 << 20, 5)
    outs = {}
    for cache in ("none", "unsafe"):
        (tmp_path / cache).mkdir()
        (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path / cache,
                                              ["-t", cache, "-f", "raw", "-O", out_fmt], [src], name="out")
        assert theirs.returncode == 0 and ours.returncode == 0, ours.stderr
        outs[cache] = (o_out, t_out)
    cached = {cache: cached_bytes(o) for cache, (o, _) in outs.items()}
    assert cached["none"] <= 64 << 10, cached
    assert cached["unsafe"] >= 4 << 20, cached
    for o_out, t_out in outs.values():
        assert o_out.read_bytes() == t_out.read_bytes()


@pytest.mark.parametrize("out_fmt", ["raw", "qcow2"])
def test_rate_limit(instar, tmp_path, out_fmt):
    """-r: the output's writes held to the rate with a tenth of a second's
    burst, as qemu-img's write throttle holds them: 6 MiB at 2 MiB/s
    cannot take less than about two seconds (qemu-img: the same)."""
    src = tmp_path / "src.raw"
    mixed_raw(src, 6 << 20, 7)
    out = tmp_path / "out"
    start = time.monotonic()
    r = run([instar, "convert", "-r", "2M", "-f", "raw", "-O", out_fmt, src, out])
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    # The last 2 MiB request and the burst go unheld: (6 - 2 - 0.2) / 2 s.
    assert elapsed >= 1.8, elapsed
    cmp = run(["qemu-img", "compare", "-f", "raw", "-F", out_fmt, src, out])
    assert cmp.returncode == 0, cmp.stdout


def test_cache_none_into_an_existing_target(instar, tmp_path):
    src = tmp_path / "src.raw"
    mixed_raw(src, 8 << 20, 6)
    out = tmp_path / "out.raw"
    out.write_bytes(b"\xff" * (8 << 20))
    r = run([instar, "convert", "-n", "-t", "none", "-f", "raw", "-O", "raw", src, out])
    assert r.returncode == 0, r.stderr
    assert cached_bytes(out) <= 64 << 10
    assert out.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("opts", ["preallocation=off", "preallocation=falloc", "preallocation=full", "nocow=on",
                                  "extent_size_hint=1M"])
def test_raw_output_options(instar, qemu_img, tmp_path, mixed_qcow2, opts):
    """-o for a raw output: qemu's preallocation (the blocks allocated are
    compared too) and the file attributes it sets."""
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw", "-o", opts], [mixed_qcow2])


VMDK_SOURCES = ["subformat=monolithicSparse", "subformat=streamOptimized",
                "subformat=monolithicSparse,zeroed_grain=on"]


@pytest.mark.parametrize("opts", VMDK_SOURCES)
@pytest.mark.parametrize("sparse", [None, "0", "64k"])
def test_vmdk_sources(instar, qemu_img, tmp_path, opts, sparse):
    """Grain tables walked a grain at a time as qemu walks them; deflated
    grains inflated in the guest."""
    src = tmp_path / "src.raw"
    mixed_raw(src, 6 << 20, 12)
    with open(src, "r+b") as f:
        f.truncate(9 << 20)
    img = tmp_path / "s.vmdk"
    assert run([qemu_img, "convert", "-f", "raw", "-O", "vmdk", "-o", opts, src, img]).returncode == 0
    if "streamOptimized" not in opts:  # written once, by convert: qemu-io cannot write into it
        qemu_io(qemu_img, img, "write -z 1M 256k", fmt="vmdk")
    args = ["-p", "-O", "raw"] + (["-S", sparse] if sparse else [])
    assert_same_output(instar, qemu_img, tmp_path, args, [img])


def vmdk_chain(qemu_img, tmp_path):
    base = tmp_path / "base.vmdk"
    top = tmp_path / "top.vmdk"
    assert run([qemu_img, "create", "-q", "-f", "vmdk", base, "64M"]).returncode == 0
    qemu_io(qemu_img, base, "write -P 1 0 8M", "write -P 2 30M 1M", fmt="vmdk")
    assert run([qemu_img, "create", "-q", "-f", "vmdk", "-b", base, "-F", "vmdk", top]).returncode == 0
    qemu_io(qemu_img, top, "write -P 3 1M 64k", "write -P 4 31M 4k", fmt="vmdk")
    return base, top


def test_vmdk_chain(instar, qemu_img, tmp_path):
    """A vmdk child reads through its parent once the parent's CID is the
    child's parentCID."""
    _, top = vmdk_chain(qemu_img, tmp_path)
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw"], [top])


def test_vmdk_parent_with_another_cid_fails_as_qemu_does(instar, qemu_img, tmp_path):
    base, top = vmdk_chain(qemu_img, tmp_path)
    data = base.read_bytes()
    at = data.index(b"\nCID=") + 5
    base.write_bytes(data[:at] + b"12345678" + data[at + 8:])
    (theirs, _), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-O", "raw"], [top])
    assert theirs.returncode == ours.returncode == 1
    assert ours.stderr.count(b"\n") == 1 and not o_out.exists()


@pytest.mark.parametrize("kind", ["flat"])
def test_vmdk_not_read_yet_is_refused_cleanly(instar, qemu_img, tmp_path, kind):
    """Descriptor files with extents are not read yet: one line, nothing
    left."""
    img = tmp_path / "img.vmdk"
    assert run([qemu_img, "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", img, "4M"]).returncode == 0
    out = tmp_path / "out.raw"
    before = sorted(os.listdir(tmp_path))
    r = run([instar, "convert", "-O", "raw", img, out])
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert sorted(os.listdir(tmp_path)) == before


def test_raw_source_of_odd_length(instar, qemu_img, tmp_path):
    raw = tmp_path / "odd.raw"
    raw.write_bytes(os.urandom(100001))
    assert_same_output(instar, qemu_img, tmp_path, ["-f", "raw", "-O", "raw"], [raw])


def test_existing_target_is_written_in_place(instar, qemu_img, tmp_path, mixed_qcow2):
    outs = []
    for d in ("theirs", "ours"):
        (tmp_path / d).mkdir()
        out = tmp_path / d / "t.raw"
        out.write_bytes(b"\x77" * (80 << 20))
        outs.append(out)
    for tool, out in zip((qemu_img, instar), outs):
        r = run([tool, "convert", "-n", "-O", "raw", mixed_qcow2, out])
        assert r.returncode == 0, r.stderr
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert_same_allocation(outs[1], outs[0])


def test_target_is_zero(instar, qemu_img, tmp_path, mixed_qcow2):
    outs = []
    for tool, d in ((qemu_img, "theirs"), (instar, "ours")):
        (tmp_path / d).mkdir()
        out = tmp_path / d / "t.raw"
        with open(out, "wb") as f:
            f.truncate(64 << 20)
        r = run([tool, "convert", "-n", "--target-is-zero", "-O", "raw", mixed_qcow2, out])
        assert r.returncode == 0, r.stderr
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert_same_allocation(outs[1], outs[0])


def test_cache_modes_are_accepted(instar, qemu_img, tmp_path, mixed_qcow2):
    for mode in ("none", "writeback", "writethrough", "directsync", "unsafe"):
        assert_same_output(instar, qemu_img, tmp_path, ["-t", mode, "-T", mode, "-O", "raw"], [mixed_qcow2])


ERRORS = [
    (["-o", "preallocation=metadata", "SRC", "OUT"], "OUT: error while converting raw: Unsupported preallocation "
                                                     "mode: metadata"),
    (["-o", "foo=bar", "SRC", "OUT"], "Invalid parameter 'foo'"),
    ([], "Must specify image file name"),
    (["SRC"], "Must specify image file name"),
    (["-O", "foo", "SRC", "OUT"], "Unknown file format 'foo'"),
    (["-f", "foo", "SRC", "OUT"], "Could not open 'SRC': Unknown driver 'foo'"),
    (["-S", "100", "SRC", "OUT"], "Invalid buffer size for sparse output specified. Valid sizes are multiples "
                                  "of 512 up to 16777216. Select 0 to disable sparse detection (fully allocates "
                                  "output)."),
    (["-S", "32M", "SRC", "OUT"], "Invalid buffer size for sparse output specified. Valid sizes are multiples "
                                  "of 512 up to 16777216. Select 0 to disable sparse detection (fully allocates "
                                  "output)."),
    (["-S", "abc", "SRC", "OUT"], "Invalid buffer size for sparse output specified. You may use k, M, G, T, P or "
                                  "E suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and "
                                  "exabytes."),
    (["--target-is-zero", "SRC", "OUT"], "--target-is-zero requires use of -n flag"),
    (["-c", "SRC", "OUT"], "Compression not supported for this file format"),
    (["-c", "-O", "vpc", "SRC", "OUT"], "Compression not supported for this file format"),
    (["-c", "-O", "vhdx", "SRC", "OUT"], "Compression not supported for this file format"),
    (["-B", "x", "SRC", "OUT"], "Backing file not supported for file format 'raw'"),
    (["-m", "0", "SRC", "OUT"], "Invalid number of coroutines. Allowed number of coroutines is between 1 and 16"),
    (["-m", "17", "SRC", "OUT"], "Invalid number of coroutines. Allowed number of coroutines is between 1 and 16"),
    (["-t", "bogus", "SRC", "OUT"], "Invalid cache option: bogus"),
    (["-T", "bogus", "SRC", "OUT"], "Invalid source cache option: bogus"),
    (["-x", "SRC", "OUT"], "unrecognized option '-x'"),
    (["--foo", "SRC", "OUT"], "unrecognized option '--foo'"),
    (["SRC", "-S"], "missing argument for option '-S'"),
    (["NOPE", "OUT"], "Could not open 'NOPE': Could not open 'NOPE': No such file or directory"),
    (["-n", "SRC", "NOPE"], "Could not open 'NOPE': Could not open 'NOPE': No such file or directory"),
    (["-n", "SRC", "SMALL"], "output file is smaller than input file"),
]


@pytest.mark.parametrize("args,message", ERRORS, ids=[" ".join(a) or "none" for a, _ in ERRORS])
def test_refusals_in_qemus_words(instar, qemu_img, tmp_path, mixed_qcow2, args, message):
    small = tmp_path / "SMALL"
    small.write_bytes(b"\x01" * 1024)
    os.symlink(mixed_qcow2, tmp_path / "SRC")
    before = sorted(os.listdir(tmp_path))
    ours = run([instar, "convert", *args], cwd=tmp_path)
    # Nothing left behind (qemu-img leaves a new target behind when it
    # refuses -t only after creating it: instar checks first).
    assert sorted(os.listdir(tmp_path)) == before
    theirs = run([qemu_img, "convert", *args], cwd=tmp_path)
    assert theirs.returncode == 1
    assert theirs.stderr.splitlines()[0] == "qemu-img: " + message.split(" You may use")[0] + (
        " You may use k, M, G, T, P or E suffixes for" if "You may use" in message else "")
    assert ours.returncode == 1
    assert ours.stderr == f"instar: convert: {message}\n"
    assert small.read_bytes() == b"\x01" * 1024


def test_failure_leaves_an_existing_target_untouched(instar, tmp_path):
    bad = tmp_path / "bad.qcow2"
    bad.write_bytes(b"QFI\xfb" + b"\xff" * 508)
    out = tmp_path / "out.raw"
    out.write_bytes(b"precious")
    r = run([instar, "convert", "-O", "raw", bad, out])
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert out.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["bad.qcow2", "out.raw"]


def test_output_help(instar, qemu_img):
    theirs = run([qemu_img, "convert", "-O", "raw", "-o", "help"])
    ours = run([instar, "convert", "-O", "raw", "-o", "help"])
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("fmt,opts", [("vpc", "subformat=dynamic"), ("vhdx", "subformat=dynamic"),
                                      ("vhdx", "subformat=fixed"), ("vhdx", "block_size=1M")])
def test_vpc_and_vhdx_sources(instar, qemu_img, tmp_path, fmt, opts):
    img = tmp_path / f"s.{fmt}"
    assert run([qemu_img, "create", "-q", "-f", fmt, "-o", opts, img, "50M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 0x12 1M 3M", "write -z 8M 2M", "write -P 0x34 20M 4k", fmt=fmt)
    assert_same_output(instar, qemu_img, tmp_path, ["-p", "-O", "raw"], [img])


def test_fixed_vpc_source(instar, qemu_img, tmp_path):
    """Bytes and allocation as qemu-img's; progress may differ, since qemu
    counts the holes of the file under a fixed image as zeroes, which only
    the host could see (docs/convert.md)."""
    img = tmp_path / "s.vpc"
    assert run([qemu_img, "create", "-q", "-f", "vpc", "-o", "subformat=fixed", img, "50M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 0x12 1M 3M", fmt="vpc")
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-f", "vpc", "-O", "raw"], [img])
    assert theirs.returncode == 0 and ours.returncode == 0, ours.stderr
    assert o_out.read_bytes() == t_out.read_bytes()
    assert_same_allocation(o_out, t_out)


def mixed_raw(path, size, seed):
    """A disk of pieces of 4 KiB to 320 KiB: noise (which qemu stores
    uncompressed), zeroes (which convert -c leaves out), text, runs of one
    byte."""
    r = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        n = r.randrange(1, 81) * 4096
        kind = r.randrange(4)
        if kind == 0:
            out += r.randbytes(n)
        elif kind == 1:
            out += bytes(n)
        elif kind == 2:
            out += b"".join(b"line %d of a compressed cluster\n" % r.randrange(100000) for _ in range(n // 30 + 1))[:n]
        else:
            out += bytes([r.randrange(256)]) * n
    path.write_bytes(bytes(out[:size]))


@pytest.mark.parametrize("opts", ["compression_type=zlib", "compression_type=zstd",
                                  "cluster_size=4k,compression_type=zstd", "cluster_size=2M", "compat=0.10",
                                  "cluster_size=512,extended_l2=off"])
def test_compressed_qcow2_source(instar, qemu_img, tmp_path, opts):
    """Compressed clusters (qemu-img convert -c) are decompressed in the
    guest: qemu's bytes, allocation and progress."""
    src = tmp_path / "src.raw"
    mixed_raw(src, (24 << 20) + 3 * 512, 7)
    img = tmp_path / "c.qcow2"
    r = run([qemu_img, "convert", "-c", "-O", "qcow2", "-o", opts, src, img])
    assert r.returncode == 0, r.stderr
    assert_same_output(instar, qemu_img, tmp_path, ["-p", "-O", "raw"], [img])
    assert (tmp_path / "ours" / "out.raw").read_bytes() == src.read_bytes()


def test_compressed_backing_file(instar, qemu_img, tmp_path):
    """A zstd-compressed base under a plain top that overwrites some of it."""
    src = tmp_path / "src.raw"
    mixed_raw(src, 8 << 20, 8)
    base = tmp_path / "base.qcow2"
    assert run([qemu_img, "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", src, base]).returncode == 0
    top = tmp_path / "top.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top]).returncode == 0
    qemu_io(qemu_img, top, "write -P 0x77 100k 70k", "write -z 3M 64k")
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw"], [top])


@pytest.mark.parametrize("ctype", ["zlib", "zstd"])
def test_damaged_compressed_cluster_fails(instar, qemu_img, tmp_path, ctype):
    """A compressed cluster whose stream is damaged: qemu-img fails the read
    (EIO); so does instar, with one line, leaving nothing behind."""
    img = tmp_path / "c.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-o", f"compression_type={ctype}", img, "4M"]).returncode == 0
    qemu_io(qemu_img, img, "write -c -P 0x31 0 64k", "write -c -P 0x32 64k 64k")
    b = bytearray(img.read_bytes())
    l1 = struct.unpack(">Q", b[40:48])[0]
    l2 = struct.unpack(">Q", b[l1:l1 + 8])[0] & 0x00fffffffffffe00
    entry = struct.unpack(">Q", b[l2 + 8:l2 + 16])[0]
    assert entry & (1 << 62)  # compressed
    offset = entry & ((1 << 54) - 1)  # 64 KiB clusters: 62 - (16 - 8) offset bits
    for i in range(offset, min(offset + 16, len(b))):  # the stream's first bytes (the file may end in it)
        b[i] ^= 0x5a
    img.write_bytes(bytes(b))
    theirs = run([qemu_img, "convert", "-O", "raw", img, tmp_path / "theirs.raw"])
    assert theirs.returncode == 1
    assert "Input/output error" in theirs.stderr
    before = sorted(os.listdir(tmp_path))
    ours = run([instar, "convert", "-O", "raw", img, tmp_path / "ours.raw"])
    assert ours.returncode == 1
    assert ours.stderr == "instar: convert: image is corrupt or not valid for its format\n"
    assert sorted(os.listdir(tmp_path)) == before


def test_deep_chain_of_2m_clusters(instar, qemu_img, tmp_path):
    """16 images (the deepest chain instar opens) with 2 MiB clusters,
    compressed ones among them: one decode scratch serves them all (each
    layer holding two clusters of its own would need over 64 MiB)."""
    src = tmp_path / "src.raw"
    mixed_raw(src, 12 << 20, 9)
    prev = tmp_path / "l0.qcow2"
    r = run([qemu_img, "convert", "-c", "-O", "qcow2", "-o", "cluster_size=2M,compression_type=zstd", src, prev])
    assert r.returncode == 0, r.stderr
    for i in range(1, 16):
        img = tmp_path / f"l{i}.qcow2"
        assert run([qemu_img, "create", "-q", "-f", "qcow2", "-o", "cluster_size=2M", "-b", prev.name, "-F",
                    "qcow2", img]).returncode == 0
        qemu_io(qemu_img, img, f"write -c -P {i} {i % 6 * 2}M 2M" if i % 2 else f"write -P {i} {i * 512}k 4k")
        prev = img
    assert_same_output(instar, qemu_img, tmp_path, ["-O", "raw"], [prev])


@pytest.fixture
def with_snapshots(qemu_img, tmp_path):
    """Two internal snapshots ("snap1" with id 1, "7" with id 2, so that
    -l 7 and -l 2 name the same one), then the disk grown past the first
    snapshot's L1 table and written there."""
    img = tmp_path / "snaps.qcow2"
    # 4 KiB clusters: an L1 entry maps 2 MiB, so growing the disk grows L1.
    assert run([qemu_img, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", img, "16M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 1 0 1M", "write -P 9 15M 64k")
    assert run([qemu_img, "snapshot", "-c", "snap1", img]).returncode == 0
    qemu_io(qemu_img, img, "write -P 2 0 2M", "write -z 15M 64k")
    assert run([qemu_img, "snapshot", "-c", "7", img]).returncode == 0
    assert run([qemu_img, "resize", "-q", img, "48M"]).returncode == 0
    qemu_io(qemu_img, img, "write -P 3 0 512", "write -P 4 40M 1M")
    return img


SNAPSHOT_PARAMS = ["snap1", "1", "2", "7", "snapshot.id=1", "snapshot.name=snap1", "snapshot.id=2,snapshot.name=7",
                   "snapshot.id=1,id=x", "snapshot.name=7,snapshot.name=snap1"]


@pytest.mark.parametrize("param", SNAPSHOT_PARAMS)
@pytest.mark.parametrize("out_fmt", ["raw", "qcow2"])
def test_internal_snapshot(instar, qemu_img, tmp_path, with_snapshots, param, out_fmt):
    """-l: the snapshot's L1 table instead of the active one; the disk keeps
    the image's size (qemu does not shrink it to the snapshot's)."""
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-l", param, "-O", out_fmt],
                                          [with_snapshots], name="out")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stderr == b""
    assert o_out.read_bytes() == t_out.read_bytes()


SNAPSHOT_ERRORS = [
    (["-l", "nope"], "Failed to load snapshot: Can't find snapshot"),
    (["-l", "snapshot.id=1,snapshot.name=7"], "Failed to load snapshot: Can't find snapshot"),
    (["-l", "snapshot.id=,"], "Failed to load snapshot: Can't find snapshot"),
    (["-l", "snapshot.foo=1"], "Invalid parameter 'snapshot.foo'"),
    (["-l", "snapshot.id=1,x=2"], "Invalid parameter 'x'"),
    (["-l", "snap1", "SRC", "SRC"], "No support for concatenating multiple snapshot"),
    (["-l", "snap1", "-f", "raw"], "Failed to load snapshot: Block format 'raw' used by device '' does not support "
                                   "temporarily loading internal snapshots"),
]


@pytest.mark.parametrize("args,message", SNAPSHOT_ERRORS, ids=[" ".join(a) for a, _ in SNAPSHOT_ERRORS])
def test_internal_snapshot_refusals(instar, qemu_img, tmp_path, with_snapshots, args, message):
    os.symlink(with_snapshots, tmp_path / "SRC")
    theirs = run([qemu_img, "convert", *args, "SRC", "OUT"], cwd=tmp_path)
    assert theirs.returncode == 1
    assert theirs.stderr.splitlines()[0] == "qemu-img: " + message
    (tmp_path / "OUT").unlink(missing_ok=True)
    ours = run([instar, "convert", *args, "SRC", "OUT"], cwd=tmp_path)
    assert ours.returncode == 1
    assert ours.stderr.splitlines()[0] == "instar: convert: " + message
    assert not (tmp_path / "OUT").exists()


def test_snapshot_with_sources_after_it(instar, qemu_img, tmp_path, with_snapshots, mixed_qcow2):
    """-l snapshot.*=...: the first source's snapshot, the others as they are
    (qemu refuses several sources only for the short form)."""
    assert_same_output(instar, qemu_img, tmp_path, ["-l", "snapshot.name=snap1", "-O", "raw"],
                       [with_snapshots, mixed_qcow2])
