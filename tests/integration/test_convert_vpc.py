"""instar convert -O vpc against qemu-img convert 7.2: the same VHD,
byte for byte apart from the footer's time, UUID and checksum (random in
qemu-img): blocks allocated in qemu's order at the file's end, the footer
moved behind them, partially written blocks left with holes."""
import pytest

from conftest import run
from test_convert import mixed_raw, qemu_io
from test_convert_qcow2 import assert_same_image, holey_raw, written_qcow2


@pytest.fixture(scope="module")
def holey(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "holey.raw"
    holey_raw(path, 40 << 20, 3)
    return path


OPTIONS = ["", "subformat=fixed", "force_size=on", "subformat=fixed,force_size=on"]


@pytest.mark.parametrize("opts", OPTIONS, ids=[o or "default" for o in OPTIONS])
@pytest.mark.parametrize("sparse", ["4k", "0", "64k"])
def test_raw_with_holes(instar, qemu_img, tmp_path, holey, opts, sparse):
    args = ["-f", "raw", "-S", sparse] + (["-o", opts] if opts else [])
    assert_same_image(instar, qemu_img, tmp_path, args, [holey], "raw", out_fmt="vpc")


def test_size_rounded_up_to_the_geometry(instar, qemu_img, tmp_path):
    """A disk no CHS geometry holds: qemu rounds it up, and the last
    block is allocated whole."""
    src = tmp_path / "odd.raw"
    mixed_raw(src, (5 << 20) + 7 * 512, 4)
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw", "-p"], [src], "raw", out_fmt="vpc")


def test_qcow2_source_with_zero_clusters(instar, qemu_img, tmp_path):
    src = written_qcow2(qemu_img, tmp_path / "s.qcow2", 24)
    assert_same_image(instar, qemu_img, tmp_path, [], [src], out_fmt="vpc")


def test_compressed_qcow2_source(instar, qemu_img, tmp_path):
    raw = tmp_path / "src.raw"
    mixed_raw(raw, 6 << 20, 9)
    src = tmp_path / "c.qcow2"
    assert run([qemu_img, "convert", "-c", "-f", "raw", "-O", "qcow2", raw, src]).returncode == 0
    assert_same_image(instar, qemu_img, tmp_path, [], [src], out_fmt="vpc")


@pytest.mark.parametrize("opts", ["subformat=dynamic", "subformat=fixed"])
def test_vpc_source(instar, qemu_img, tmp_path, holey, opts):
    src = tmp_path / "s.vhd"
    assert run([qemu_img, "convert", "-f", "raw", "-O", "vpc", "-o", opts, holey, src]).returncode == 0
    # A fixed VHD has no signature at its start: named, not detected.
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "vpc"], [src], "vpc", out_fmt="vpc")


def test_several_sources(instar, qemu_img, tmp_path, holey):
    small = tmp_path / "small.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", small, "1536"]).returncode == 0
    qemu_io(qemu_img, small, "write -P 0x99 512 512")
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw"], [holey, small, holey], out_fmt="vpc")


def test_empty_disk_of_the_largest_size(instar, qemu_img, tmp_path):
    """2040 GiB of holes: a BAT of unallocated entries and nothing else."""
    src = tmp_path / "empty.raw"
    with open(src, "wb") as f:
        f.truncate(2040 << 30)
    assert_same_image(instar, qemu_img, tmp_path, ["-f", "raw"], [src], "raw", out_fmt="vpc")


@pytest.mark.parametrize("fmt,size,opts,message", [
    ("vpc", "2041G", [], "error while converting vpc: Disk size is too large, max size is 2040 GiB"),
    ("qcow2", "3T", ["-o", "cluster_size=512"],
     "error while converting qcow2: Could not resize image: Failed to grow the L1 table: File too large"),
])
def test_too_large_in_the_drivers_words(instar, qemu_img, tmp_path, fmt, size, opts, message):
    """qemu-img convert calls the driver directly: its own words, not the
    ones qemu-img create puts in their place. instar leaves no file."""
    src = tmp_path / "big.qcow2"
    assert run([qemu_img, "create", "-q", "-f", "qcow2", src, size]).returncode == 0
    theirs = run([qemu_img, "convert", "-O", fmt, *opts, src, "OUT"], cwd=tmp_path)
    assert theirs.returncode == 1
    assert theirs.stderr == f"qemu-img: OUT: {message}\n"
    (tmp_path / "OUT").unlink(missing_ok=True)
    ours = run([instar, "convert", "-O", fmt, *opts, src, "OUT"], cwd=tmp_path)
    assert ours.returncode == 1
    assert ours.stderr == f"instar: convert: OUT: {message}\n"
    assert not (tmp_path / "OUT").exists()
