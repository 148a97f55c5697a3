"""instar convert -O vmdk against qemu-img convert 7.2: the same image,
byte for byte but the descriptor's random CID (grains in qemu's order,
both grain tables, streamOptimized's compressed grains and markers), the
same blocks allocated, the same words; qemu-img check finds it clean and
compare finds it equal to the source."""
import pytest

from conftest import run
from imagecompare import first_difference, normalised
from test_convert import assert_same_allocation, both, mixed_raw, qemu_io
from test_convert_qcow2 import holey_raw, written_qcow2

SUBFORMATS = ["monolithicSparse", "streamOptimized"]
DESCRIPTOR = slice(512, 512 + 10240)


def masked(image: bytes) -> bytes:
    """The image as imagecompare normalises it (the CID masked), and with
    what follows the descriptor's text cleared: qemu writes a new random
    CID over the text on the first write (vmdk_write_cid), and where it is
    two or more hex digits shorter than the CID `create` drew, the old
    text's last characters stay behind the new text's NUL."""
    data = bytearray(normalised("vmdk", image))
    area = data[DESCRIPTOR]
    end = area.index(0)
    data[DESCRIPTOR] = area[:end].ljust(len(area), b"\0")
    return bytes(data)


def assert_same_image(instar, qemu_img, tmp_path, args, sources, source_fmt=None, same_stdout=True):
    (theirs, t_out), (ours, o_out) = both(instar, qemu_img, tmp_path, ["-O", "vmdk", *args], sources,
                                          name="out.vmdk")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    if same_stdout:
        assert ours.stdout == theirs.stdout
    assert ours.stderr == b""
    a, b = masked(o_out.read_bytes()), masked(t_out.read_bytes())
    assert first_difference(a, b) is None, first_difference(a, b)
    assert_same_allocation(o_out, t_out)
    check = run([qemu_img, "check", "-f", "vmdk", o_out])
    assert check.returncode == 0, check.stdout + check.stderr
    if len(sources) == 1:
        fmt = ["-f", source_fmt] if source_fmt else []
        cmp = run([qemu_img, "compare", *fmt, "-F", "vmdk", sources[0], o_out])
        assert cmp.returncode == 0, cmp.stdout + cmp.stderr


def sub(subformat, opts=""):
    return ["-o", f"subformat={subformat}" + (f",{opts}" if opts else "")]


@pytest.fixture(scope="module")
def holey(tmp_path_factory):
    """24 MiB and three sectors: the last grain is short."""
    path = tmp_path_factory.mktemp("src") / "holey.raw"
    holey_raw(path, (24 << 20) + 1536, 3)
    return path


@pytest.fixture(scope="module")
def small_qcow2(qemu_img, tmp_path_factory):
    """16 MiB of data, data that is zeroes, zero clusters, two writes into
    one cluster."""
    return written_qcow2(qemu_img, tmp_path_factory.mktemp("q") / "small.qcow2", 16)


@pytest.mark.parametrize("subformat", SUBFORMATS)
@pytest.mark.parametrize("sparse", [None, "0", "4k", "64k"])
def test_raw_with_holes(instar, qemu_img, tmp_path, holey, subformat, sparse):
    args = ["-f", "raw", *sub(subformat)] + (["-S", sparse] if sparse else [])
    assert_same_image(instar, qemu_img, tmp_path, args, [holey], "raw")


@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_compressed(instar, qemu_img, tmp_path, holey, subformat):
    """-c: accepted for monolithicSparse, whose grains it leaves plain (the
    driver's compressed write is its ordinary one there); for
    streamOptimized the image convert writes anyway."""
    assert_same_image(instar, qemu_img, tmp_path, ["-c", "-p", "-f", "raw", *sub(subformat)], [holey], "raw")


def test_compressed_fully_allocated(instar, qemu_img, tmp_path, small_qcow2):
    assert_same_image(instar, qemu_img, tmp_path, ["-c", "-S", "0", *sub("streamOptimized")], [small_qcow2])


def test_sparse_beyond_a_grain(instar, qemu_img, tmp_path, holey):
    """-S 1M: qemu-img writes zeroes shorter than 1M between data, and
    aligns data to 1M, so monolithicSparse gets grains of zeroes."""
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", "-S", "1M", *sub("monolithicSparse")], [holey], "raw")


def test_stream_sparse_beyond_a_grain(instar, qemu_img, tmp_path, holey):
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", "-S", "1M", *sub("streamOptimized")], [holey], "raw")


@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_qcow2_source(instar, qemu_img, tmp_path, small_qcow2, subformat):
    assert_same_image(instar, qemu_img, tmp_path, sub(subformat), [small_qcow2])


def test_progress(instar, qemu_img, tmp_path, small_qcow2):
    assert_same_image(instar, qemu_img, tmp_path, ["-p", *sub("monolithicSparse")], [small_qcow2])


def test_stream_progress(instar, qemu_img, tmp_path, small_qcow2):
    assert_same_image(instar, qemu_img, tmp_path, ["-p", *sub("streamOptimized")], [small_qcow2])


@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_fully_allocated(instar, qemu_img, tmp_path, small_qcow2, subformat):
    """-S 0: every zero written as data, so every grain is allocated."""
    assert_same_image(instar, qemu_img, tmp_path, ["-S", "0", *sub(subformat)], [small_qcow2])


@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_compressed_qcow2_source(instar, qemu_img, tmp_path, subformat):
    src = tmp_path / "src.raw"
    mixed_raw(src, 6 << 20, 11)
    img = tmp_path / "c.qcow2"
    assert run([qemu_img, "convert", "-c", "-O", "qcow2", src, img]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, sub(subformat), [img])


@pytest.mark.parametrize("source_sub", SUBFORMATS)
@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_vmdk_source(instar, qemu_img, tmp_path, holey, source_sub, subformat):
    img = tmp_path / "s.vmdk"
    made = run([qemu_img, "convert", "-f", "raw", "-O", "vmdk", *sub(source_sub), holey, img])
    assert made.returncode == 0, made.stderr
    assert_same_image(instar, qemu_img, tmp_path, sub(subformat), [img])


OPTIONS = ["zeroed_grain=on", "adapter_type=lsilogic", "adapter_type=legacyESX,compat6=on",
           "hwversion=11,toolsversion=12352"]


@pytest.mark.parametrize("subformat", SUBFORMATS)
@pytest.mark.parametrize("opts", OPTIONS)
def test_create_options(instar, qemu_img, tmp_path, small_qcow2, subformat, opts):
    assert_same_image(instar, qemu_img, tmp_path, sub(subformat, opts), [small_qcow2])


@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_several_sources(instar, qemu_img, tmp_path, holey, small_qcow2, subformat):
    """Three sources of odd sizes end to end: grains span two of them."""
    odd = tmp_path / "odd.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", odd, "1536"]).returncode == 0
    qemu_io(qemu_img, odd, "write -P 0x99 512 512")
    big = tmp_path / "holey.qcow2"
    assert run([qemu_img, "convert", "-f", "raw", "-O", "qcow2", holey, big]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, sub(subformat), [big, odd, small_qcow2, odd])


@pytest.mark.parametrize("subformat", SUBFORMATS)
def test_empty_and_tiny(instar, qemu_img, tmp_path, subformat):
    """Nothing to write, then one sector: the disk smaller than a grain."""
    for size, data in ((3 << 20, False), (1536, True)):
        src = tmp_path / f"t{size}.raw"
        with open(src, "wb") as f:
            f.truncate(size)
            if data:
                f.seek(512)
                f.write(b"\x42" * 512)
        assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", *sub(subformat)], [src], "raw")
