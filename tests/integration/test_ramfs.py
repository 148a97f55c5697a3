"""Preallocation on a file system without fallocate(2): ramfs here, and
NFSv3, older ZFS and some FUSE file systems alike.

instar called posix_fallocate, whose glibc fallback for such file systems
asks fcntl(F_GETFL) and fstatfs, which seccomp forbids: the process died of
SIGSYS and left its temporary file (issue 10). qemu-img 7.2 also calls
posix_fallocate (block/file-posix.c, handle_aiocb_truncate), gets that
fallback, which writes the zeroes, and succeeds; so must instar, with the
same image.

The ramfs is mounted in a mount namespace of its own (unshare -m), held by
a sleeping process; commands run in it with nsenter, and the test reads
its files through /proc/PID/root. Needs root.
"""
import os
import shutil
import subprocess

import pytest

from conftest import run
from imagecompare import first_difference, normalised

FORMATS = ["qcow2", "vhdx", "vpc", "vmdk", "raw"]  # raw: no guest, created by the parent


@pytest.fixture
def ramfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root: a mount namespace (unshare -m) and mount -t ramfs")
    for tool in ("unshare", "nsenter", "fallocate"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (util-linux) is missing")
    mnt = tmp_path / "ramfs"
    mnt.mkdir()
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount -t ramfs ramfs "$1" && echo mounted && exec sleep 600', "sh", str(mnt)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if holder.stdout.readline().strip() != "mounted":
            holder.kill()
            pytest.skip(f"cannot mount a ramfs here: {holder.stderr.read().strip()}")

        # (nsenter --wd would resolve the directory before entering.)
        def inside(args, wd=mnt, **kw):
            return run(["nsenter", "-t", str(holder.pid), "-m", "--", "sh", "-c", 'cd "$1" && shift && exec "$@"',
                        "sh", wd, *args], **kw)

        seen = lambda p: f"/proc/{holder.pid}/root{p}"  # noqa: E731 (the namespace's view of a path)
        probe = inside(["fallocate", "-l", "4096", "probe"])
        assert probe.returncode != 0 and "not supported" in probe.stderr, "this ramfs has fallocate"
        os.unlink(seen(mnt / "probe"))
        yield mnt, inside, seen
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("mode", ["falloc", "full"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_preallocation_without_fallocate(instar, qemu_img, ramfs, fmt, mode):
    mnt, inside, seen = ramfs
    for side in ("ours", "theirs"):
        os.mkdir(seen(mnt / side))
    # Same file name in two directories: vmdk records it in its descriptor.
    name = f"disk.{fmt}"
    opts = ["-f", fmt, "-o", f"preallocation={mode}", name, "1M"]
    theirs = inside([qemu_img, "create", *opts], wd=mnt / "theirs")
    ours = inside([instar, "create", *opts], wd=mnt / "ours")

    assert theirs.returncode == 0, theirs.stderr  # qemu-img 7.2: glibc's fallback writes the zeroes
    assert ours.returncode == 0, ours.stderr
    assert ours.stderr == ""
    assert ours.stdout == theirs.stdout
    image = seen(mnt / "ours" / name)
    diff = first_difference(normalised(fmt, open(image, "rb").read()),
                            normalised(fmt, open(seen(mnt / "theirs" / name), "rb").read()))
    assert diff is None, diff
    if fmt in ("qcow2", "raw"):  # the formats whose data preallocation reaches the file
        # Really allocated (ramfs counts every page written), as qemu-img's.
        for path in (image, seen(mnt / "theirs" / name)):
            assert os.stat(path).st_blocks * 512 >= 1 << 20, path
    if fmt in ("qcow2", "vhdx", "vmdk"):
        check = inside([qemu_img, "check", name], wd=mnt / "ours")
        assert check.returncode == 0, check.stdout + check.stderr
    assert sorted(os.listdir(seen(mnt / "ours"))) == [name], "a temporary file was left behind"
