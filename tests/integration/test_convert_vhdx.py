"""instar convert -O vhdx against qemu-img convert 7.2: the same image,
byte for byte apart from the GUIDs qemu draws (imagecompare: the headers'
identity and sequence numbers, each log entry's GUID and checksum):
payload blocks where qemu allocates them, the BAT as qemu's log leaves it,
the log entries themselves. qemu-img check finds the image clean and
compare finds it equal to the source."""
import os
import struct

import pytest

from conftest import run
from imagecompare import normalised
from test_convert import both, qemu_io
from test_convert_qcow2 import holey_raw, written_qcow2


def data_extents(path):
    """[start, end) ranges of `path` that hold data (SEEK_DATA), so that
    images of many sparse GiB compare quickly."""
    out = []
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        at = 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, end))
            at = end
    finally:
        os.close(fd)
    return out


def payload_offset(head):
    """Where qemu puts the first payload block: 5 MiB past the BAT."""
    bat_offset, bat_length = struct.unpack_from("<QI", head, 0x30000 + 16 + 16)
    return bat_offset + bat_length + (5 << 20)


def assert_same_vhdx(ours, theirs):
    a_size, b_size = os.path.getsize(ours), os.path.getsize(theirs)
    assert a_size == b_size, (a_size, b_size)
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        head_a = a.read(8 << 20)
        end = min(payload_offset(head_a), a_size)
        head_a += a.read(max(0, end - len(head_a)))
        head_b = b.read(len(head_a))
        # Sequence numbers are masked (qemu draws header 1's at random);
        # header 2 stays one ahead, the current header, in both.
        for head in (head_a, head_b):
            assert struct.unpack_from("<Q", head, 0x20008)[0] == struct.unpack_from("<Q", head, 0x10008)[0] + 1
        na, nb = normalised("vhdx", head_a[:end]), normalised("vhdx", head_b[:end])
        assert na == nb, next(i for i in range(end) if na[i] != nb[i])
        ranges = sorted(data_extents(ours) + data_extents(theirs))
        for start, stop in ranges:
            start = max(start, end)
            while start < stop:
                n = min(stop - start, 16 << 20)
                a.seek(start)
                b.seek(start)
                assert a.read(n) == b.read(n), f"payload differs in [{start:#x}, {start + n:#x})"
                start += n


def assert_same_image(instar, qemu_img, tmp_path, args, sources, source_fmt=None, compare=True):
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-O", "vhdx", *args], sources,
                                          name="out.vhdx")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == b""
    assert_same_vhdx(o_out, t_out)
    check = run([qemu_img, "check", "-f", "vhdx", o_out])
    assert check.returncode == 0, check.stdout + check.stderr
    if compare and len(sources) == 1:
        fmt = ["-f", source_fmt] if source_fmt else []
        cmp = run([qemu_img, "compare", *fmt, "-F", "vhdx", sources[0], o_out])
        assert cmp.returncode == 0, cmp.stdout + cmp.stderr


@pytest.fixture(scope="module")
def holey(tmp_path_factory):
    """24 MiB of data of every shape between holes, ending mid-block."""
    path = tmp_path_factory.mktemp("src") / "holey.raw"
    holey_raw(path, (40 << 20) + 7 * 512, 3)
    return path


OPTIONS = ["", "block_state_zero=off", "block_size=1M", "block_size=2M,block_state_zero=off", "block_size=32M",
           "log_size=2M", "subformat=fixed", "subformat=fixed,block_state_zero=off",
           "subformat=fixed,block_size=1M,log_size=3M"]


@pytest.mark.parametrize("opts", OPTIONS, ids=[o or "default" for o in OPTIONS])
def test_raw_with_holes(instar, qemu_img, tmp_path, holey, opts):
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw"] + (["-o", opts] if opts else []), [holey], "raw")


@pytest.mark.parametrize("opts", ["", "subformat=fixed,block_state_zero=off"])
def test_sparse_sizes(instar, qemu_img, tmp_path, holey, opts):
    """-S 1M: small runs of zeroes inside data are written as data."""
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", "-S", "1M"] + (["-o", opts] if opts else []),
                      [holey], "raw")


@pytest.mark.parametrize("opts", ["block_size=1M", "subformat=fixed"])
def test_fully_allocated(instar, qemu_img, tmp_path, opts):
    """-S 0: every block is allocated, zeroes written as data."""
    src = written_qcow2(qemu_img, tmp_path / "small.qcow2", 16)
    assert_same_image(instar, qemu_img, tmp_path, ["-S", "0", "-o", opts], [src])


@pytest.mark.parametrize("opts", ["", "block_size=1M,block_state_zero=off"])
def test_qcow2_source_with_zero_clusters(instar, qemu_img, tmp_path, opts):
    src = written_qcow2(qemu_img, tmp_path / "s.qcow2", 64)
    assert_same_image(instar, qemu_img, tmp_path, ["-o", opts] if opts else [], [src])


def test_vhdx_source(instar, qemu_img, tmp_path):
    src = tmp_path / "src.raw"
    holey_raw(src, 24 << 20, 5)
    img = tmp_path / "s.vhdx"
    assert run([qemu_img, "convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M", src, img]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, ["-o", "block_size=2M"], [img], "vhdx")


def test_several_sources(instar, qemu_img, tmp_path):
    """Sources end mid-block and mid-sector run: the next one's data
    goes on in the same block."""
    big = written_qcow2(qemu_img, tmp_path / "big.qcow2", 24)
    small = tmp_path / "small.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", small, "1536"]).returncode == 0
    qemu_io(qemu_img, small, "write -P 0x99 512 512")
    assert_same_image(instar, qemu_img, tmp_path, ["-o", "block_size=1M"], [big, small, big])


def test_nothing_written(instar, qemu_img, tmp_path):
    """No data: the image stays as created (headers untouched)."""
    src = tmp_path / "empty.raw"
    with open(src, "wb") as f:
        f.truncate(64 << 20)
    for opts in ("block_size=1M", "subformat=fixed,block_state_zero=off"):
        assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", "-o", opts], [src], "raw")


def one_sector_per_mib(path, mib):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
        for i in range(mib):
            f.seek((i << 20) + (i % 7) * 512)
            f.write(bytes([i % 255 + 1]) * 512)


def test_log_wraps(instar, qemu_img, tmp_path):
    """A 1 MiB log holds 128 entries: 300 allocations wrap it twice."""
    src = tmp_path / "s.raw"
    one_sector_per_mib(src, 300)
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", "-o", "block_size=1M"], [src], "raw")


@pytest.mark.parametrize("opts", ["block_size=1M", "block_size=1M,block_state_zero=off"])
def test_bat_entry_at_a_sector_start(instar, qemu_img, tmp_path, opts):
    """BAT entry 512 opens the BAT's second sector: logged and replayed
    with the rest of the sector in place (qemu 7.2's source, read
    literally, would move it up by one entry; its binary does not)."""
    src = tmp_path / "s.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", src, "600M"]).returncode == 0
    qemu_io(qemu_img, src, "write -P 1 511M 1M", "write -P 2 512M 512", "write -P 3 513M 1M", "write -P 4 599M 1M")
    assert_same_image(instar, qemu_img, tmp_path, ["-o", opts], [src])


def test_shifted_sector_with_bitmap_entries(instar, qemu_img, tmp_path):
    """16 MiB blocks: a sector-bitmap entry after every 256 payload
    entries, one right after entry 512 (block 511, at 8 GiB - 16 MiB),
    the first of the BAT's second sector."""
    src = tmp_path / "s.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", src, "9G"]).returncode == 0
    qemu_io(qemu_img, src, "write -P 1 8176M 1M", "write -P 2 8192M 4k", "write -P 3 8300M 1M")
    assert_same_image(instar, qemu_img, tmp_path, ["-o", "block_size=16M"], [src])


def test_compression_refused(instar, qemu_img, tmp_path, holey):
    (theirs, _), (ours, _) = both(instar, qemu_img, tmp_path, ["-c", "-O", "vhdx", "-f", "raw"], [holey],
                                  name="out.vhdx")
    assert theirs.returncode == ours.returncode == 1
    message = b"Compression not supported for this file format\n"
    assert theirs.stderr == b"qemu-img: " + message
    assert ours.stderr == b"instar: convert: " + message
