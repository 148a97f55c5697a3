"""`instar info` against live qemu-img 7.2 on a corpus built at test time:
same stdout (human and JSON), same exit status. Plus instar's own safety
rules (docs/info.md)."""
import json
import os
import struct
import subprocess

import pytest

from conftest import run, run_qemu_img_luks


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
        made = run_qemu_img_luks([qemu_img, "create", "-q", "-f", "qcow2", "--object", "secret,id=sec0,data=123456",
                                  "-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" + extra,
                                  name, "16M"], cwd=d)
        assert made.returncode == 0, made.stderr
        images[name] = "qcow2"
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
    # vmdk images whose data lives in other files: a descriptor naming
    # extent files beside it (one per 2 GiB for twoGbMaxExtent*).
    images[mk("flat.vmdk", "vmdk", "-o", "subformat=monolithicFlat", size="100M")] = "vmdk"
    images[mk("split.vmdk", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", size="5G")] = "vmdk"
    images[mk("splitflat.vmdk", "vmdk", "-o", "subformat=twoGbMaxExtentFlat", size="5G")] = "vmdk"
    images[mk("splitchild.vmdk", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "-b", "plain.vmdk", "-F", "vmdk",
              size="1G")] = "vmdk"
    subprocess.run([qemu_img, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
                    "src.raw", "splitdata.vmdk"], check=True, cwd=d)
    qemu_io(d / "splitdata.vmdk", "vmdk", "write -P 0x33 30M 1M")
    images["splitdata.vmdk"] = "vmdk"
    # Extents of several kinds in one descriptor, written by hand.
    (d / "mixed.vmdk").write_text('# Disk DescriptorFile\nversion=1\nCID=5eed\nparentCID=ffffffff\n'
                                  'createType="vmfs"\nRW 2048 FLAT "flat-flat.vmdk" 0\nRW 100 ZERO "none"\n'
                                  'RW 1 SPARSE "split-s003.vmdk"\nRW 64 VMFS "src.raw"\n')
    images["mixed.vmdk"] = "vmdk"
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


@pytest.mark.parametrize("output", ["human", "json"])
def test_backing_chain_of_vmdk_descriptors(instar, qemu_img, corpus, output):
    """A vmdk child whose parent is named by a descriptor file, under a
    qcow2 overlay: every image's extents are read."""
    d, _ = corpus
    if not (d / "over-split.qcow2").exists():
        subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-b", "splitchild.vmdk", "-F", "vmdk",
                        "over-split.qcow2"], check=True, cwd=d)
    for name in ("splitchild.vmdk", "over-split.qcow2"):
        ours, theirs = both(instar, qemu_img, d, "--backing-chain", f"--output={output}", name)
        assert ours.returncode == theirs.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout, name


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


@pytest.mark.skipif(os.geteuid() != 0, reason="making device nodes needs root")
@pytest.mark.parametrize("kind", ["chr", "blk"])
def test_device_node_named_by_an_image_is_refused(instar, qemu_img, tmp_path, kind):
    """An allowed directory may hold device nodes (`info --backing-chain
    /dev/sdb` allows /dev): a backing file or extent an image names that is
    a device node is refused without being opened, while the same node
    given on the command line is read."""
    mode, dev = (0o20600, os.makedev(1, 3)) if kind == "chr" else (0o60600, os.makedev(7, 200))
    os.mknod(tmp_path / "node", mode, dev)
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b", "node", "-F", "raw", "top.qcow2", "1G"],
                   check=True, cwd=tmp_path)
    r = run([instar, "info", "--backing-chain", "top.qcow2"], cwd=tmp_path, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == "instar: info: Could not open 'node': a device node named by an image is not opened\n"
    (tmp_path / "d.vmdk").write_text(descriptor('RW 2048 FLAT "node" 0'))
    r = run([instar, "info", "d.vmdk"], cwd=tmp_path, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("instar: info: Could not open 'd.vmdk': Could not open 'node': "
                        "a device node named by an image is not opened\n")
    if kind == "chr":
        # The command line's own path is the user's choice (this one reads
        # as zeroes: a raw image, once the format is given).
        r = run([instar, "info", "-f", "raw", tmp_path / "node"], timeout=30)
        assert r.returncode == 0, r.stderr


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


# --- vmdk extent files: opened only beneath the allowlist -------------------

def descriptor(extents, create_type="monolithicFlat"):
    return ('# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n'
            f'createType="{create_type}"\n\n# Extent description\n{extents}\n')


def flat_image(directory, qemu_img, name="img.vmdk", size="1M"):
    subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", name, size],
                   check=True, cwd=directory)


def stderr_text(r, prog):
    """The error line without the program's prefix."""
    assert r.stderr.startswith(prog + ": "), r.stderr
    return r.stderr[len(prog) + 2:].removeprefix("info: ")


@pytest.mark.parametrize("layout", ["missing flat", "missing sparse", "missing in subdirectory"])
def test_missing_extent_file_as_qemu_says(instar, qemu_img, tmp_path, layout):
    if layout == "missing flat":
        flat_image(tmp_path, qemu_img)
        (tmp_path / "img-flat.vmdk").unlink()
        name = "img.vmdk"
    elif layout == "missing sparse":
        subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse",
                        "img.vmdk", "5G"], check=True, cwd=tmp_path)
        (tmp_path / "img-s002.vmdk").unlink()
        name = "img.vmdk"
    else:
        (tmp_path / "sub").mkdir()
        flat_image(tmp_path / "sub", qemu_img)
        (tmp_path / "sub" / "img-flat.vmdk").unlink()
        name = "sub/img.vmdk"
    for output in ("human", "json"):
        ours, theirs = both(instar, qemu_img, tmp_path, f"--output={output}", name)
        assert ours.returncode == theirs.returncode == 1
        assert ours.stdout == theirs.stdout == ""
        assert stderr_text(ours, "instar") == stderr_text(theirs, "qemu-img")
        assert "No such file or directory" in ours.stderr and ours.stderr.count("\n") == 1


@pytest.mark.parametrize("extent", ["/etc/passwd", "../outside.vmdk", "../" * 16 + "etc/passwd", "link.vmdk",
                                    "sub/../../outside.vmdk"])
def test_extent_outside_allowlist_is_refused(instar, qemu_img, tmp_path, extent):
    inner = tmp_path / "images"
    inner.mkdir()
    (inner / "sub").mkdir()
    flat_image(tmp_path, qemu_img, "outside-src.vmdk")
    (tmp_path / "outside-src-flat.vmdk").rename(tmp_path / "outside.vmdk")
    (inner / "link.vmdk").symlink_to(tmp_path / "outside.vmdk")
    (inner / "link.vmdk.nope").symlink_to(tmp_path / "outside.vmdk.nope")  # dangling, out of the directory
    (inner / "img.vmdk").write_text(descriptor(f'RW 2048 FLAT "{extent}" 0'))
    # qemu-img opens it (and shows the outside file); instar does not.
    assert run([qemu_img, "info", "img.vmdk"], cwd=inner).returncode == 0
    r = run([instar, "info", "img.vmdk"], cwd=inner)
    assert r.returncode == 1 and r.stdout == ""
    assert "not in an allowed directory" in r.stderr and r.stderr.count("\n") == 1
    # The same message whether or not the file exists.
    (inner / "img.vmdk").write_text(descriptor(f'RW 2048 FLAT "{extent}.nope" 0'))
    r2 = run([instar, "info", "img.vmdk"], cwd=inner)
    assert r2.stderr.replace(".nope", "") == r.stderr
    # A sparse extent is refused the same way, and so is one of a backing
    # image's.
    (inner / "img.vmdk").write_text(descriptor(f'RW 1 SPARSE "{extent}"', "twoGbMaxExtentSparse"))
    assert run([instar, "info", "img.vmdk"], cwd=inner).stderr == r.stderr
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b", "img.vmdk", "-F", "vmdk", "top.qcow2", "1M"],
                   check=True, cwd=inner)
    r3 = run([instar, "info", "--backing-chain", "top.qcow2"], cwd=inner)
    assert r3.returncode == 1 and "not in an allowed directory" in r3.stderr


def test_backing_dir_widens_the_allowlist_for_extents(instar, qemu_img, tmp_path):
    inner = tmp_path / "images"
    inner.mkdir()
    flat_image(tmp_path, qemu_img, "outside-src.vmdk")
    (inner / "img.vmdk").write_text(descriptor('RW 2048 FLAT "../outside-src-flat.vmdk" 0'))
    assert run([instar, "info", "img.vmdk"], cwd=inner).returncode == 1
    for output in ("human", "json"):
        ours = run([instar, "info", "--backing-dir", tmp_path, f"--output={output}", "img.vmdk"], cwd=inner)
        theirs = run([qemu_img, "info", f"--output={output}", "img.vmdk"], cwd=inner)
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout


def test_extent_that_is_not_a_file(instar, qemu_img, tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "d.vmdk").write_text(descriptor('RW 2048 FLAT "dir" 0'))
    ours, theirs = both(instar, qemu_img, tmp_path, "d.vmdk")
    assert ours.returncode == theirs.returncode == 1
    assert stderr_text(ours, "instar") == stderr_text(theirs, "qemu-img")
    # A FIFO: qemu-img blocks opening it forever; instar refuses it at once.
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "f.vmdk").write_text(descriptor('RW 2048 FLAT "fifo" 0'))
    r = run([instar, "info", "f.vmdk"], cwd=tmp_path, timeout=30)
    assert r.returncode == 1 and "regular file" in r.stderr and r.stderr.count("\n") == 1


def test_more_extents_than_the_limit(instar, qemu_img, tmp_path):
    """One device per extent file: 2047 extents besides the descriptor are
    read (here as qemu shows them), more are refused with a clear error."""
    subprocess.run(["truncate", "-s", "1M", tmp_path / "x.raw"], check=True)
    limit = 2047
    for count in (limit, limit + 1):
        lines = "".join('RW 8 FLAT "x.raw" 0\n' for _ in range(count))
        (tmp_path / f"n{count}.vmdk").write_text(descriptor(lines, "twoGbMaxExtentFlat"))
    ours, theirs = both(instar, qemu_img, tmp_path, f"n{limit}.vmdk")
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    r = run([instar, "info", f"n{limit + 1}.vmdk"], cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert f"{limit + 1} extent files" in r.stderr and f"({limit})" in r.stderr and r.stderr.count("\n") == 1


def test_many_sparse_extents_under_a_low_open_file_limit(instar, qemu_img, tmp_path):
    """Each extent is an open file and a device the guest sets up: a
    soft limit of 1024 open files is raised as far as the hard limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"hard open-file limit {hard}")
    subprocess.run([qemu_img, "create", "-q", "-f", "vmdk", "s.vmdk", "1M"], check=True, cwd=tmp_path)
    (tmp_path / "many.vmdk").write_text(descriptor("".join('RW 1 SPARSE "s.vmdk"\n' for _ in range(1100)),
                                                   "twoGbMaxExtentSparse"))

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    ours = subprocess.run([str(instar), "info", "many.vmdk"], cwd=tmp_path, capture_output=True, text=True,
                          preexec_fn=low_limit, timeout=120)
    theirs = run([qemu_img, "info", "many.vmdk"], cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def test_descriptor_qemu_img_aborts_on_is_refused(instar, tmp_path):
    """No extent at all: qemu-img 7.2 fails an assertion; instar refuses."""
    (tmp_path / "e.vmdk").write_text(descriptor('RW 100 ZERO "z"'))
    r = run([instar, "info", "e.vmdk"], cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("instar: info: ") and r.stderr.count("\n") == 1


@pytest.mark.parametrize("fmt,size", [("qcow2", 104), ("vmdk", 512), ("vpc", 512), ("vhdx", 65536 * 3)])
def test_truncated_headers_fail_cleanly(instar, qemu_img, tmp_path, fmt, size):
    subprocess.run([qemu_img, "create", "-q", "-f", fmt, "full", "1G"], check=True, cwd=tmp_path)
    data = (tmp_path / "full").read_bytes()
    for cut in (8, size // 2, size - 1):
        (tmp_path / "cut").write_bytes(data[:cut])
        r = run([instar, "info", "-f", fmt, "cut"], cwd=tmp_path, timeout=30)
        assert r.returncode == 1, (cut, r.stdout)
        assert r.stderr.startswith("instar: info: ") and r.stderr.count("\n") == 1


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
