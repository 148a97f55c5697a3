"""`instar copy`: bytes in, the same bytes out, through the sandbox."""
import os
import stat

import pytest

from conftest import run



def copy_ok(instar, src, dst, *extra, **kw):
    r = run([instar, "copy", *extra, src, dst], **kw)
    assert r.returncode == 0, r.stderr
    assert not r.stderr
    return r


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 65535, 65537, 3 * 1024 * 1024 + 7])
def test_copies_any_size_exactly(instar, tmp_path, size):
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(size))
    dst = tmp_path / "out.bin"
    copy_ok(instar, src, dst)
    assert dst.read_bytes() == src.read_bytes()


def test_random_data_larger_than_one_batch(instar, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(40 * 1024 * 1024 + 12345))
    dst = tmp_path / "out.bin"
    copy_ok(instar, src, dst)
    assert dst.read_bytes() == src.read_bytes()


def test_large_copy_written_while_the_next_batch_is_read(instar, tmp_path):
    # Large enough for the output's I/O thread and several batches in
    # flight through both buffers; every chunk distinct, so a batch written
    # from the wrong buffer or twice shows.
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(100 * 1024 * 1024 + 12345))
    dst = tmp_path / "out.bin"
    copy_ok(instar, src, dst)
    assert dst.read_bytes() == src.read_bytes()


def test_output_is_sparse_where_input_has_holes(instar, tmp_path):
    src = tmp_path / "holes.bin"
    with open(src, "wb") as f:
        f.truncate(64 * 1024 * 1024)
        for offset in (0, 10 * 1024 * 1024 + 3, 63 * 1024 * 1024):
            f.seek(offset)
            f.write(os.urandom(4096))
    dst = tmp_path / "out.bin"
    copy_ok(instar, src, dst)
    assert dst.read_bytes() == src.read_bytes()
    # Three 4 KiB islands touch at most six 64 KiB output blocks.
    assert os.stat(dst).st_blocks * 512 <= 6 * 65536


def test_explicit_zero_data_becomes_holes(instar, tmp_path):
    src = tmp_path / "zeros.bin"
    src.write_bytes(b"\0" * (8 * 1024 * 1024))  # allocated zeroes, not a hole
    dst = tmp_path / "out.bin"
    copy_ok(instar, src, dst)
    assert dst.read_bytes() == src.read_bytes()
    assert os.stat(dst).st_blocks == 0


def test_sparse_5gib_file(instar, tmp_path):
    src = tmp_path / "big.raw"
    size = 5 * 1024 ** 3
    with open(src, "wb") as f:
        f.truncate(size)
        f.write(b"head")
        f.seek(size // 2)
        f.write(b"middle")
        f.seek(size - 4)
        f.write(b"tail")
    dst = tmp_path / "big.out"
    copy_ok(instar, src, dst)
    assert os.stat(dst).st_size == size
    with open(dst, "rb") as f:
        assert f.read(4) == b"head"
        f.seek(size // 2)
        assert f.read(6) == b"middle"
        f.seek(size - 4)
        assert f.read(4) == b"tail"
    assert os.stat(dst).st_blocks * 512 <= 3 * 65536


def test_replaces_an_existing_file_and_keeps_its_mode(instar, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"new content")
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"old content that is longer")
    os.chmod(dst, 0o600)
    copy_ok(instar, src, dst)
    assert dst.read_bytes() == b"new content"
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o600


def test_replacement_drops_setuid_and_setgid(instar, tmp_path):
    """As cp does: new contents do not inherit the old file's privileges."""
    src = tmp_path / "in.bin"
    src.write_bytes(b"new content")
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"old")
    os.chmod(dst, 0o6755)
    copy_ok(instar, src, dst)
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o755


def test_writes_through_a_symlink(instar, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"via link")
    target = tmp_path / "real.bin"
    target.write_bytes(b"before")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    copy_ok(instar, src, link)
    assert link.is_symlink()
    assert target.read_bytes() == b"via link"


def test_progress_goes_to_stdout(instar, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(100000))
    # Bytes: text mode would read each \r as a line end.
    r = copy_ok(instar, src, tmp_path / "out.bin", "-p", text=False)
    assert r.stdout == b"    (0.00/100%)\r    (100.00/100%)\r\n"


def test_progress_relayed_from_the_sandbox_child_is_exact(instar, tmp_path):
    """The guest reports after each 16 MiB batch; the parent prints what the
    child relays, byte for byte as when the guest ran in-process."""
    src = tmp_path / "in.bin"
    src.write_bytes(os.urandom(1 << 20) * 40 + b"tail")
    r = copy_ok(instar, src, tmp_path / "out.bin", "-p", text=False)
    assert r.stdout == (b"    (0.00/100%)\r    (40.00/100%)\r    (80.00/100%)\r"
                        b"    (100.00/100%)\r\n")


def test_missing_input_is_one_line_and_exit_1(instar, tmp_path):
    r = run([instar, "copy", tmp_path / "nope", tmp_path / "out"])
    assert r.returncode == 1
    assert r.stderr == f"instar: copy: cannot open '{tmp_path / 'nope'}': No such file or directory\n"
    assert not (tmp_path / "out").exists()


def test_read_only_directory_leaves_nothing(instar, tmp_path):
    if os.geteuid() == 0:
        # root ignores directory permissions; use a directory root cannot write.
        target = "/proc/instar-test-output"
        expected = "No such file or directory"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        os.chmod(ro, 0o555)
        target = ro / "out"
        expected = "Permission denied"
    src = tmp_path / "in.bin"
    src.write_bytes(b"x")
    r = run([instar, "copy", src, target])
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and expected in r.stderr
    assert r.stderr.startswith("instar: copy: cannot create ")


def test_directory_as_input_or_output_is_refused(instar, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"x")
    r = run([instar, "copy", tmp_path, tmp_path / "out"])
    assert r.returncode == 1 and "Is a directory" in r.stderr
    r = run([instar, "copy", src, tmp_path])
    assert r.returncode == 1 and "Is a directory" in r.stderr


def test_usage_errors_exit_1(instar):
    r = run([instar, "copy", "only-one-arg"])
    assert r.returncode == 1
    assert r.stderr.startswith("instar: ")


def test_unknown_command_is_one_line_and_exit_1(instar):
    r = run([instar, "bogus"])
    assert r.returncode == 1
    assert r.stderr == "instar: Command not found: bogus\n"
