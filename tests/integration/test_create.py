"""`instar create` against live qemu-img 7.2: same command to both, same
file (after masking only random fields), same stdout, same exit status."""
import json
import os
import shutil
import stat
import sys

import pytest

from conftest import run
from imagecompare import first_difference, normalised

M, G, T = 1 << 20, 1 << 30, 1 << 40

CASES = [
    # (format, instar options, size[, the same options for qemu-img])
    *[("qcow2", [], s) for s in ("1M", "64M", "1G", "2T", "1000000")],
    ("qcow2", ["-o", "cluster_size=4096"], "1G"),
    ("qcow2", ["-o", "cluster_size=512"], "64M"),
    ("qcow2", ["-o", "cluster_size=2M"], "1G"),
    ("qcow2", ["--cluster-size", "65536", "--refcount-bits", "1"], "1G", ["-o", "cluster_size=65536,refcount_bits=1"]),
    *[("qcow2", ["-o", f"refcount_bits={b}"], "1G") for b in (2, 4, 8, 32, 64)],
    ("qcow2", ["-o", "extended_l2=on,cluster_size=128k"], "1G"),
    ("qcow2", ["--lazy-refcounts"], "1G", ["-o", "lazy_refcounts=on"]),
    ("qcow2", ["-o", "compat=0.10"], "1G"),
    ("qcow2", ["--compat", "0.10"], "2T", ["-o", "compat=0.10"]),
    ("qcow2", ["--preallocation", "falloc"], "64M", ["-o", "preallocation=falloc"]),
    ("qcow2", ["-o", "preallocation=full,cluster_size=4k"], "16M"),
    ("vmdk", ["--subformat", "streamOptimized"], "64M", ["-o", "subformat=streamOptimized"]),
    ("vhdx", ["--block-size", "8M"], "1G", ["-o", "block_size=8M"]),
    ("vpc", ["--subformat", "fixed"], "16M", ["-o", "subformat=fixed"]),
    ("qcow2", ["-o", "compression_type=zstd"], "1G"),
    ("qcow2", ["-o", "preallocation=metadata"], "64M"),
    *[("vmdk", [], s) for s in ("1M", "64M", "1G", "2T")],
    ("vmdk", ["-o", "subformat=streamOptimized"], "1G"),
    ("vmdk", ["-o", "adapter_type=lsilogic"], "1G"),
    ("vmdk", ["-o", "compat6=on"], "1G"),
    ("vmdk", ["-o", "hwversion=11,toolsversion=12352"], "1G"),
    ("vmdk", ["-o", "zeroed_grain=on"], "64M"),
    *[("vpc", [], s) for s in ("1M", "64M", "1G", "1000000")],
    ("vpc", ["-o", "subformat=fixed"], "64M"),
    ("vpc", ["-o", "force_size=on"], "1000000"),
    *[("vhdx", [], s) for s in ("1M", "64M", "1G", "2T")],
    ("vhdx", ["-o", "subformat=fixed"], "16M"),
    ("vhdx", ["-o", "block_size=1M"], "1G"),
    ("vhdx", ["-o", "log_size=4M,block_state_zero=off"], "1G"),
]


def case_id(case):
    fmt, opts, size = case[:3]
    return "-".join([fmt, size, *[o.replace("=", "") for o in opts if not o.startswith("-")]]) or fmt


def info_without_random_fields(qemu_img, path):
    info = json.loads(run([qemu_img, "info", "--output=json", path]).stdout)
    for key in ("filename", "actual-size", "dirty-flag"):
        info.pop(key, None)
    data = info.get("format-specific", {}).get("data", {})
    if info["format"] == "vmdk":
        data.pop("cid")
        for extent in data.get("extents", []):
            extent["filename"] = os.path.basename(extent["filename"])
    return info


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_same_image_as_qemu_img(instar, qemu_img, tmp_path, case):
    fmt, opts, size = case[:3]
    qemu_opts = case[3] if len(case) > 3 else opts
    # Same file name in two directories: vmdk records it in its descriptor.
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    ours, theirs = tmp_path / "ours" / f"disk.{fmt}", tmp_path / "theirs" / f"disk.{fmt}"
    r_theirs = run([qemu_img, "create", "-f", fmt, *qemu_opts, theirs.name, size], cwd=theirs.parent)
    r_ours = run([instar, "create", "-f", fmt, *opts, ours.name, size], cwd=ours.parent)
    assert r_theirs.returncode == 0, r_theirs.stderr
    assert r_ours.returncode == 0, r_ours.stderr
    assert r_ours.stdout == r_theirs.stdout
    diff = first_difference(normalised(fmt, ours.read_bytes()), normalised(fmt, theirs.read_bytes()))
    assert diff is None, diff

    assert info_without_random_fields(qemu_img, ours) == info_without_random_fields(qemu_img, theirs)
    if fmt in ("qcow2", "vmdk", "vhdx"):
        check = run([qemu_img, "check", ours])
        assert check.returncode == 0, check.stdout + check.stderr


def test_qcow2_child_inherits_parent_size(instar, qemu_img, tmp_path):
    os.chdir(tmp_path)
    assert run([instar, "create", "-f", "qcow2", "base.qcow2", "3G"]).returncode == 0
    r = run([instar, "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "child.qcow2"])
    assert r.returncode == 0, r.stderr
    ref = run([qemu_img, "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "ref.qcow2"])
    assert r.stdout == ref.stdout.replace("ref.qcow2", "child.qcow2")
    assert (tmp_path / "child.qcow2").read_bytes() == (tmp_path / "ref.qcow2").read_bytes()
    info = json.loads(run([qemu_img, "info", "--output=json", "child.qcow2"]).stdout)
    assert info["virtual-size"] == 3 * G
    assert info["backing-filename"] == "base.qcow2"


def test_vmdk_child_records_parent_cid(instar, qemu_img, tmp_path):
    os.chdir(tmp_path)
    assert run([qemu_img, "create", "-f", "vmdk", "parent.vmdk", "1G"]).returncode == 0
    r = run([instar, "create", "-f", "vmdk", "-b", "parent.vmdk", "-F", "vmdk", "child.vmdk"])
    assert r.returncode == 0, r.stderr
    parent = (tmp_path / "parent.vmdk").read_bytes()
    child = (tmp_path / "child.vmdk").read_bytes()
    cid = parent[parent.index(b"\nCID=") + 5:].split(b"\n")[0]
    assert b"parentCID=" + cid + b"\n" in child
    assert b'parentFileNameHint="parent.vmdk"' in child


def test_backing_file_of_wrong_format_is_refused(instar, tmp_path):
    os.chdir(tmp_path)
    (tmp_path / "base.raw").write_bytes(b"\0" * 65536)
    r = run([instar, "create", "-f", "qcow2", "-b", "base.raw", "-F", "qcow2", "child.qcow2"])
    assert r.returncode == 1
    assert r.stderr == "instar: create: child.qcow2: Image is not in qcow2 format\n"
    assert not (tmp_path / "child.qcow2").exists()


def test_raw_is_sparse_and_exact(instar, qemu_img, tmp_path):
    target = tmp_path / "disk.raw"
    r = run([instar, "create", target, "16M"])
    assert r.returncode == 0
    assert r.stdout == f"Formatting '{target}', fmt=raw size=16777216\n"
    assert os.stat(target).st_size == 16 * M
    # Sparse but for the first block, which qemu-img writes too (its
    # O_DIRECT alignment probe needs one allocated block): the same
    # "disk size" in info.
    theirs = tmp_path / "theirs.raw"
    assert run([qemu_img, "create", "-q", "-f", "raw", theirs, "16M"]).returncode == 0
    assert os.stat(target).st_blocks == os.stat(theirs).st_blocks <= 8


def test_raw_full_preallocation_allocates(instar, tmp_path):
    target = tmp_path / "disk.raw"
    assert run([instar, "create", "-o", "preallocation=full", target, "4M"]).returncode == 0
    assert os.stat(target).st_blocks * 512 >= 4 * M
    assert target.read_bytes() == b"\0" * (4 * M)


# Runs inside a private mount namespace (unshare -m): mounts a file system
# and gives instar and qemu-img the same raw create in twin directories,
# then reports how each ended and what it left.
_IN_NAMESPACE = r"""
import hashlib, json, os, subprocess, sys
instar, fstype, opts, size = sys.argv[1:5]
root = "/mnt"
subprocess.run(["mount", "-t", fstype, "-o", opts, "none", root], check=True)
out = {}
for mode in ("off", "falloc", "full"):
    for tool, cmd in (("instar", [instar]), ("qemu", ["qemu-img"])):
        d = os.path.join(root, tool + "-" + mode)
        os.mkdir(d)
        r = subprocess.run(cmd + ["create", "-q", "-f", "raw", "-o", "preallocation=" + mode, "img", size],
                           cwd=d, capture_output=True, text=True)
        files = {}
        for name in os.listdir(d):
            st = os.stat(os.path.join(d, name))
            with open(os.path.join(d, name), "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            files[name] = [st.st_size, st.st_blocks, digest]
            os.unlink(os.path.join(d, name))
        prefix = "instar: create: " if tool == "instar" else "qemu-img: "
        err = r.stderr[len(prefix):] if r.stderr.startswith(prefix) else r.stderr
        out[tool + "-" + mode] = [r.returncode, err, files]
print(json.dumps(out))
"""


def _raw_create_in_namespace(instar, fstype, opts, size):
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root (unshare -m + mount)")
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is missing")
    with open("/proc/filesystems") as f:
        if fstype not in f.read().split():
            pytest.skip(f"this kernel has no {fstype}")
    r = run(["unshare", "-m", "--propagation", "private", sys.executable, "-c", _IN_NAMESPACE, instar, fstype, opts,
             size])
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_raw_preallocation_without_fallocate_as_qemu_img(instar):
    """ramfs has no fallocate: qemu-img 7.2's posix_fallocate falls back to
    writing zeroes, and so does instar (falloc) -- same status, same file."""
    result = _raw_create_in_namespace(instar, "ramfs", "mode=755", "8M")
    for mode in ("off", "falloc", "full"):
        ours, theirs = result["instar-" + mode], result["qemu-" + mode]
        assert ours[0] == theirs[0] == 0, (mode, ours, theirs)
        assert ours[1] == theirs[1] == ""
        if mode == "off":
            # Allocation differs for `off` only: qemu writes the first 4 KiB
            # to help it probe O_DIRECT alignment later; instar leaves a hole.
            ours[2]["img"][1] = theirs[2]["img"][1]
        assert ours[2] == theirs[2], mode
    assert result["instar-falloc"][2]["img"][1] * 512 >= 8 * M


def test_raw_preallocation_on_a_full_file_system_as_qemu_img(instar):
    """Out of space: qemu-img's status and message; instar also leaves no
    file (qemu-img leaves an empty one)."""
    result = _raw_create_in_namespace(instar, "tmpfs", "size=4m", "8M")
    for mode in ("falloc", "full"):
        ours, theirs = result["instar-" + mode], result["qemu-" + mode]
        assert ours[0] == theirs[0] == 1, (mode, ours, theirs)
        assert ours[1] == theirs[1], mode
        assert "No space left on device" in ours[1]
        assert ours[2] == {}
    assert result["instar-off"][0] == result["qemu-off"][0] == 0


@pytest.mark.parametrize("fmt,opts,expected", [
    ("raw", [], 16777216),
    ("qcow2", [], 16777216),
    ("vmdk", [], 16777216),
    # vpc rounds up to its CHS geometry, exactly as qemu-img 7.2 does (its
    # own 16M vpc image reports 16781312), unless force_size is on.
    ("vpc", [], 16781312),
    ("vpc", ["-o", "force_size=on"], 16777216),
    ("vhdx", [], 16777216),
])
def test_16m_images_report_16m(instar, qemu_img, tmp_path, fmt, opts, expected):
    target = tmp_path / f"disk.{fmt}"
    assert run([instar, "create", "-q", "-f", fmt, *opts, target, "16M"]).returncode == 0
    info = json.loads(run([qemu_img, "info", "--output=json", target]).stdout)
    assert info["virtual-size"] == expected


def test_json_output(instar, tmp_path):
    target = tmp_path / "disk.qcow2"
    r = run([instar, "create", "-q", "--output", "json", "-f", "qcow2", target, "1G"])
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert list(j) == ["filename", "format", "virtual_size", "metadata_bytes_written", "file_size_after",
                       "resolved_unit_size"]
    assert j["filename"] == str(target)
    assert j["virtual_size"] == G
    assert j["file_size_after"] == os.stat(target).st_size == 196624
    assert j["resolved_unit_size"] == 65536
    assert r.stdout.startswith('{\n    "filename"')
    # A relative name is reported as an absolute path.
    r = run([instar, "create", "-q", "--output", "json", "-f", "vhdx", "rel.vhdx", "1G"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["filename"] == str(tmp_path / "rel.vhdx")


def test_deterministic_gives_identical_files(instar, tmp_path):
    for fmt in ("vmdk", "vpc", "vhdx"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        for target in (a, b):
            os.chdir(tmp_path)
            assert run([instar, "create", "-q", "--deterministic", "-f", fmt, "x." + fmt, "1G"]).returncode == 0
            os.replace(tmp_path / f"x.{fmt}", target)
        assert a.read_bytes() == b.read_bytes(), fmt
        c = tmp_path / f"c.{fmt}"
        assert run([instar, "create", "-q", "-f", fmt, c, "1G"]).returncode == 0
        assert c.read_bytes() != a.read_bytes(), f"{fmt}: random identity expected without --deterministic"


ERRORS = [
    (["x.qcow2"], "x.qcow2: Image creation needs a size parameter"),
    (["-f", "qcow2", "x.qcow2"], "x.qcow2: Image creation needs a size parameter"),
    (["-f", "qcow2", "-o", "cluster_size=3000", "x.qcow2", "1G"], None),
    (["-f", "qcow2", "-o", "lazy_refcounts=on,compat=0.10", "x.qcow2", "1G"], None),
    (["-f", "qcow2", "-o", "nosuchkey=1", "x.qcow2", "1G"], None),
    (["-f", "qcow2", "-b", "base.qcow2", "x.qcow2", "1G"], None),
    (["-f", "raw", "-b", "base.raw", "-F", "raw", "x.qcow2", "1G"], None),
    (["-f", "qcow2", "-o", "encrypt.format=luks", "x.qcow2", "1G"], None),
    (["-f", "vpc", "x.qcow2", "3T"], None),
    (["-f", "nosuchfmt", "x.qcow2", "1G"], None),
    (["x.qcow2", "-5"], None),
]


@pytest.mark.parametrize("args,message", ERRORS)
def test_validation_errors_leave_nothing(instar, qemu_img, tmp_path, args, message):
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    ref = run([qemu_img, "create", *args], cwd=ref_dir)
    work = tmp_path / "work"
    work.mkdir()
    os.chdir(work)
    existing = work / "x.qcow2"
    existing.write_bytes(b"keep me")
    os.chmod(existing, 0o640)
    r = run([instar, "create", *args])
    assert r.returncode == 1 and ref.returncode == 1
    assert r.stderr.startswith("instar: create: ") and r.stderr.count("\n") == 1, r.stderr
    if message:
        assert r.stderr == f"instar: create: {message}\n"
    assert existing.read_bytes() == b"keep me"
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o640
    assert sorted(p.name for p in work.iterdir()) == ["x.qcow2"]


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "vpc", "vhdx"])
def test_image_is_the_same_whatever_the_sector_size(instar, tmp_path, fmt):
    images = []
    for sector in ("512", "4096", "65536"):
        target = tmp_path / sector / f"disk.{fmt}"
        target.parent.mkdir()
        r = run([instar, "create", "-q", "--deterministic", "--sector-size", sector, "-f", fmt, target.name, "1G"],
                cwd=target.parent)
        assert r.returncode == 0, r.stderr
        images.append(target.read_bytes())
    assert images[0] == images[1] == images[2]


def test_backing_path_is_relative_to_the_new_image(instar, qemu_img, tmp_path):
    sub = tmp_path / "images"
    sub.mkdir()
    assert run([qemu_img, "create", "-f", "qcow2", sub / "base.qcow2", "2G"]).returncode == 0
    # Run from elsewhere: "base.qcow2" must be found next to the new image.
    r = run([instar, "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", sub / "child.qcow2"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    info = json.loads(run([qemu_img, "info", "--output=json", sub / "child.qcow2"]).stdout)
    assert info["virtual-size"] == 2 * G
    assert info["backing-filename"] == "base.qcow2"


def test_unsafe_backing_is_not_opened(instar, qemu_img, tmp_path):
    os.chdir(tmp_path)
    r = run([instar, "create", "-f", "qcow2", "-u", "-b", "missing.qcow2", "-F", "qcow2", "child.qcow2", "1G"])
    ref = run([qemu_img, "create", "-f", "qcow2", "-u", "-b", "missing.qcow2", "-F", "qcow2", "ref.qcow2", "1G"])
    assert r.returncode == ref.returncode == 0, r.stderr
    assert (tmp_path / "child.qcow2").read_bytes() == (tmp_path / "ref.qcow2").read_bytes()


def test_missing_backing_file_is_an_error(instar, qemu_img, tmp_path):
    os.chdir(tmp_path)
    r = run([instar, "create", "-f", "qcow2", "-b", "missing.qcow2", "-F", "qcow2", "child.qcow2"])
    assert r.returncode == 1
    assert r.stderr == "instar: create: child.qcow2: Could not open 'missing.qcow2': No such file or directory\n"
    assert not (tmp_path / "child.qcow2").exists()


def test_guest_side_refusal_leaves_existing_file(instar, qemu_img, tmp_path):
    # A vmdk child of a non-vmdk parent: refused inside the guest, after the
    # Formatting line, as qemu-img refuses it after its own.
    os.chdir(tmp_path)
    assert run([qemu_img, "create", "-f", "qcow2", "base.qcow2", "1G"]).returncode == 0
    existing = tmp_path / "child.vmdk"
    existing.write_bytes(b"keep")
    r = run([instar, "create", "-f", "vmdk", "-b", "base.qcow2", "-F", "qcow2", "child.vmdk"])
    ref = run([qemu_img, "create", "-f", "vmdk", "-b", "base.qcow2", "-F", "qcow2", "ref.vmdk"])
    assert r.returncode == ref.returncode == 1
    assert r.stderr.startswith("instar: create: ") and r.stderr.count("\n") == 1, r.stderr
    assert existing.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.qcow2", "child.vmdk"]


def test_create_replaces_an_existing_image(instar, qemu_img, tmp_path):
    target = tmp_path / "disk.qcow2"
    target.write_bytes(b"x" * 1000000)
    assert run([instar, "create", "-q", "-f", "qcow2", target, "1G"]).returncode == 0
    assert run([qemu_img, "check", target]).returncode == 0
    assert os.stat(target).st_size == 196624


def test_json_output_to_a_terminal(instar, tmp_path):
    import pty
    import subprocess
    master, slave = pty.openpty()
    try:
        r = subprocess.run([str(instar), "create", "-q", "--output", "json", "-f", "qcow2", "t.qcow2", "1G"],
                           cwd=tmp_path, stdout=slave, timeout=60)
        assert r.returncode == 0
        assert b'"format": "qcow2"' in os.read(master, 65536)
    finally:
        os.close(master)
        os.close(slave)
