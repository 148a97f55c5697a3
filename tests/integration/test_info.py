"""`instar info` against live qemu-img 7.2 on a corpus built at test time:
same stdout (human and JSON), same exit status. Plus instar's own safety
rules (docs/info.md)."""
import json
import os
import struct
import subprocess

import pytest

from conftest import needs_kvm, run

pytestmark = needs_kvm

M, G = 1 << 20, 1 << 30


def qemu_io(path, fmt, *commands):
    args = ["qemu-io", "-f", fmt]
    for c in commands:
        args += ["-c", c]
    subprocess.run(args + [str(path)], check=True, capture_output=True)


def build_corpus(d, qemu_img):
    """Returns {name: format} for images made in directory d."""
    def mk(name, fmt, *opts, size="1G"):
        subprocess.run([qemu_img, "create", "-q", "-f", fmt, *opts, name, size], check=True, cwd=d)
        return name

    images = {}
    for fmt in ("qcow2", "vmdk", "vpc", "vhdx"):
        images[mk(f"plain.{fmt}", fmt)] = fmt
    images[mk("v2.qcow2", "qcow2", "-o", "compat=0.10")] = "qcow2"
    for cs in ("512", "4k", "2M"):
        images[mk(f"c{cs}.qcow2", "qcow2", "-o", f"cluster_size={cs}", size="64M")] = "qcow2"
    for rb in ("1", "64"):
        images[mk(f"r{rb}.qcow2", "qcow2", "-o", f"refcount_bits={rb}", size="64M")] = "qcow2"
    images[mk("l2.qcow2", "qcow2", "-o", "extended_l2=on,lazy_refcounts=on,compression_type=zstd")] = "qcow2"
    images[mk("stream.vmdk", "vmdk", "-o", "subformat=streamOptimized")] = "vmdk"
    images[mk("fixed.vhdx", "vhdx", "-o", "subformat=fixed", size="16M")] = "vhdx"
    images[mk("odd.vpc", "vpc", size="1000000")] = "vpc"
    # Written data, discards, compressed clusters, snapshots.
    data = mk("data.qcow2", "qcow2", size="64M")
    qemu_io(d / data, "qcow2", "write -P 0x5a 0 1M", "write -P 0x11 10M 64k", "discard 10M 64k")
    subprocess.run([qemu_img, "snapshot", "-c", "first", data], check=True, cwd=d)
    images[data] = "qcow2"
    # More snapshots than a result struct could hold: they come as records.
    many = mk("snapshots.qcow2", "qcow2", size="1M")
    for i in range(70):
        subprocess.run([qemu_img, "snapshot", "-c", f"s{i}", many], check=True, cwd=d)
    images[many] = "qcow2"
    raw = d / "src.raw"
    with open(raw, "wb") as f:
        f.write(os.urandom(2 * M))
        f.truncate(32 * M)
    for fmt, opts in (("qcow2", ["-c"]), ("vmdk", []), ("vpc", []), ("vhdx", [])):
        name = f"converted.{fmt}"
        subprocess.run([qemu_img, "convert", "-f", "raw", "-O", fmt, *opts, "src.raw", name], check=True, cwd=d)
        images[name] = fmt
    # A three-image backing chain and a vmdk child.
    mk("base.qcow2", "qcow2", size="2G")
    mk("mid.qcow2", "qcow2", "-b", "base.qcow2", "-F", "qcow2", size="2G")
    images[mk("top.qcow2", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", size="2G")] = "qcow2"
    images[mk("child.vmdk", "vmdk", "-b", "plain.vmdk", "-F", "vmdk")] = "vmdk"
    # LUKS encryption: qemu's defaults and the variants it can make (a short
    # iteration time, or each takes seconds).
    for name, extra in LUKS_VARIANTS.items():
        images[mk(name, "qcow2", "--object", "secret,id=sec0,data=123456", "-o",
                  "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" + extra, size="16M")] = "qcow2"
    # Persistent dirty bitmaps: enabled, disabled, granularities, in use.
    bitmaps = mk("bitmaps.qcow2", "qcow2", size="64M")
    for args in (["bm0"], ["--disable", "-g", "128k", "bm1"], ["-g", "512", "with space"], ["-g", "2G", "big"]):
        subprocess.run([qemu_img, "bitmap", "--add", bitmaps, *args], check=True, cwd=d)
    qemu_io(d / bitmaps, "qcow2", "write -P 1 0 3M")
    images[bitmaps] = "qcow2"
    in_use = mk("inuse.qcow2", "qcow2", size="16M")
    subprocess.run([qemu_img, "bitmap", "--add", in_use, "x"], check=True, cwd=d)
    # qemu marks bitmaps in use while it has the image open: a crash leaves
    # them so.
    subprocess.run(["qemu-io", "-c", "write 0 64k", "-c", "abort", in_use], cwd=d, capture_output=True)
    images[in_use] = "qcow2"
    return images


LUKS_VARIANTS = {
    "luks.qcow2": "",
    "luks-aes128.qcow2": ",encrypt.cipher-alg=aes-128",
    "luks-cbc-essiv.qcow2": ",encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv",
    "luks-sha1.qcow2": ",encrypt.hash-alg=sha1",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, qemu_img):
    d = tmp_path_factory.mktemp("corpus")
    return d, build_corpus(d, qemu_img)


def both(instar, qemu_img, d, *args):
    ours = run([instar, "info", *args], cwd=d)
    theirs = run([qemu_img, "info", *args], cwd=d)
    return ours, theirs


@pytest.mark.parametrize("output", ["human", "json"])
def test_same_output_as_qemu_img(instar, qemu_img, corpus, output):
    d, images = corpus
    for name in sorted(images):
        ours, theirs = both(instar, qemu_img, d, f"--output={output}", name)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), name


@pytest.mark.parametrize("output", ["human", "json"])
def test_with_explicit_format(instar, qemu_img, corpus, output):
    d, images = corpus
    for name, fmt in sorted(images.items()):
        ours, theirs = both(instar, qemu_img, d, "-f", fmt, f"--output={output}", name)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), name


@pytest.mark.parametrize("output", ["human", "json"])
def test_backing_chain(instar, qemu_img, corpus, output):
    d, _ = corpus
    ours, theirs = both(instar, qemu_img, d, "--backing-chain", f"--output={output}", "top.qcow2")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def test_images_made_by_instar(instar, qemu_img, tmp_path):
    for fmt in ("qcow2", "vmdk", "vpc", "vhdx"):
        name = f"made.{fmt}"
        assert run([instar, "create", "-q", "-f", fmt, name, "3G"], cwd=tmp_path).returncode == 0
        ours, theirs = both(instar, qemu_img, tmp_path, name)
        assert ours.stdout == theirs.stdout and ours.returncode == 0, fmt


def test_force_share_is_accepted(instar, qemu_img, corpus):
    d, _ = corpus
    ours, theirs = both(instar, qemu_img, d, "-U", "plain.qcow2")
    assert ours.stdout == theirs.stdout and ours.returncode == 0


# --- instar's safety rules -------------------------------------------------
# (Hostile images, backing loops and chains deeper than 16 are in
# test_adversarial.py.)

def test_unknown_bytes_are_not_raw(instar, tmp_path):
    (tmp_path / "blob").write_bytes(b"not a disk image at all" * 100)
    r = run([instar, "info", "blob"], cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("instar: info: ") and "format" in r.stderr and r.stderr.count("\n") == 1


def test_zero_filled_file_without_f_is_refused(instar, tmp_path):
    (tmp_path / "zeros").write_bytes(b"\0" * M)
    assert run([instar, "info", "zeros"], cwd=tmp_path).returncode == 1


def test_unsafe_quirks_and_f_raw_restore_raw(instar, qemu_img, tmp_path):
    (tmp_path / "zeros").write_bytes(b"\0" * M)
    theirs = run([qemu_img, "info", "zeros"], cwd=tmp_path)
    for args in (["--unsafe-quirks"], ["-f", "raw"]):
        ours = run([instar, "info", *args, "zeros"], cwd=tmp_path)
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout


def test_partitioned_raw_disk_is_raw(instar, qemu_img, tmp_path):
    disk = bytearray(4 * M)
    disk[446 + 4] = 0x83
    disk[446 + 12:446 + 16] = (2048).to_bytes(4, "little")
    disk[510:512] = b"\x55\xaa"
    (tmp_path / "disk.img").write_bytes(bytes(disk))
    ours, theirs = both(instar, qemu_img, tmp_path, "disk.img")
    assert ours.returncode == 0 and ours.stdout == theirs.stdout


def test_format_contradicting_f_is_an_error(instar, qemu_img, corpus):
    d, _ = corpus
    ours, theirs = both(instar, qemu_img, d, "-f", "vmdk", "plain.qcow2")
    assert ours.returncode == theirs.returncode == 1
    assert ours.stderr.count("\n") == 1


@pytest.mark.parametrize("backing", ["../../etc/passwd", "/etc/passwd", "../outside.qcow2"])
def test_backing_outside_allowlist_is_refused(instar, qemu_img, tmp_path, backing):
    inner = tmp_path / "images"
    inner.mkdir()
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", tmp_path / "outside.qcow2", "1G"], check=True)
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "qcow2", "top.qcow2", "1G"],
                   check=True, cwd=inner)
    r = run([instar, "info", "--backing-chain", "top.qcow2"], cwd=inner)
    assert r.returncode == 1
    assert "not in an allowed directory" in r.stderr and r.stderr.count("\n") == 1
    # The same message whether or not the file exists.
    subprocess.run([qemu_img, "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b", backing + ".nope", "top.qcow2"],
                   check=True, cwd=inner)
    r2 = run([instar, "info", "--backing-chain", "top.qcow2"], cwd=inner)
    assert r2.stderr.replace(".nope", "") == r.stderr


def test_symlink_out_of_the_directory_is_refused(instar, qemu_img, tmp_path):
    inner = tmp_path / "images"
    inner.mkdir()
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", tmp_path / "outside.qcow2", "1G"], check=True)
    (inner / "link.qcow2").symlink_to(tmp_path / "outside.qcow2")
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b", "link.qcow2", "-F", "qcow2", "top.qcow2", "1G"],
                   check=True, cwd=inner)
    r = run([instar, "info", "--backing-chain", "top.qcow2"], cwd=inner)
    assert r.returncode == 1 and "not in an allowed directory" in r.stderr


def test_backing_dir_widens_the_allowlist(instar, qemu_img, tmp_path):
    inner = tmp_path / "images"
    inner.mkdir()
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", tmp_path / "outside.qcow2", "1G"], check=True)
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-b", "../outside.qcow2", "-F", "qcow2", "top.qcow2"],
                   check=True, cwd=inner)
    ours = run([instar, "info", "--backing-chain", "--backing-dir", tmp_path, "top.qcow2"], cwd=inner)
    theirs = run(["qemu-img", "info", "--backing-chain", "top.qcow2"], cwd=inner)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def find_extension(data, wanted):
    """Where a header extension of a qcow2 v3 image starts."""
    off = struct.unpack(">I", data[100:104])[0]
    while True:
        kind, length = struct.unpack(">II", data[off:off + 8])
        if kind == wanted:
            return off
        assert kind != 0
        off += 8 + (length + 7) // 8 * 8


@pytest.mark.parametrize("damage", ["magic", "stripes", "cipher", "no_header"])
def test_damaged_luks_fails_cleanly(instar, qemu_img, corpus, tmp_path, damage):
    d, _ = corpus
    data = bytearray((d / "luks.qcow2").read_bytes())
    ext = find_extension(data, 0x0537be77)
    luks = struct.unpack(">Q", data[ext + 8:ext + 16])[0]
    if damage == "magic":
        data[luks] ^= 1
    elif damage == "stripes":
        data[luks + 208 + 3 * 48 + 47] ^= 1
    elif damage == "cipher":
        data[luks + 8:luks + 11] = b"des"
    else:
        # An extension qemu does not know: qemu-img 7.2 crashes on a LUKS
        # image without its header.
        data[ext:ext + 4] = b"\x12\x34\x56\x78"
    (tmp_path / "bad.qcow2").write_bytes(bytes(data))
    ours, theirs = both(instar, qemu_img, tmp_path, "bad.qcow2")
    assert theirs.returncode != 0
    assert ours.returncode == 1 and ours.stdout == ""
    assert ours.stderr.startswith("instar: info: ") and ours.stderr.count("\n") == 1


def test_many_bitmaps_of_one_name(instar, qemu_img, tmp_path):
    """The most bitmaps qemu opens, crafted: all but the first in use and of
    the first one's name, which qemu skips (and instar must find quickly)."""
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "img.qcow2", "16M"], check=True, cwd=tmp_path)
    subprocess.run([qemu_img, "bitmap", "--add", "img.qcow2", "bm0"], check=True, cwd=tmp_path)
    data = bytearray((tmp_path / "img.qcow2").read_bytes())
    off = find_extension(data, 0x23852875)
    cluster = 65536
    table = (len(data) + cluster - 1) // cluster * cluster
    name = b"n" * 100
    entry = lambda flags: struct.pack(">QIIBBHI", table, 1, flags, 1, 16, len(name), 0) + name + bytes(4)
    directory = entry(2) + entry(3) * 65534
    at = table + cluster
    data += bytes(at - len(data)) + directory
    data[off + 8:off + 32] = struct.pack(">IIQQ", 65535, 0, len(directory), at)
    (tmp_path / "img.qcow2").write_bytes(bytes(data))
    for output in ("human", "json"):
        ours, theirs = both(instar, qemu_img, tmp_path, f"--output={output}", "img.qcow2")
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout


@pytest.mark.parametrize("stdout", ["devnull", "terminal"])
def test_output_to_a_terminal_or_dev_null(instar, corpus, stdout):
    """Output printed after the sandbox closes must not need system calls it
    forbids (stdio asks isatty of a character device)."""
    import pty
    d, _ = corpus
    if stdout == "devnull":
        r = subprocess.run([str(instar), "info", "data.qcow2"], cwd=d, stdout=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0
        return
    master, slave = pty.openpty()
    try:
        r = subprocess.run([str(instar), "info", "data.qcow2"], cwd=d, stdout=slave, timeout=60)
        assert r.returncode == 0
        assert b"file format: qcow2" in os.read(master, 65536)
    finally:
        os.close(master)
        os.close(slave)
