"""Guests that break the rules on purpose (tests/test_guests): each run
must end in one clear error line and exit 1 within --timeout + 1 s, with
no file touched outside the declared output. They run in
instar-testhooks, the only build that loads a guest from INSTAR_GUEST_DIR."""
import hashlib
import os
import time

import pytest

from conftest import needs_kvm, run

TIMEOUT = 2
OVERLAP = "guest misbehaved: descriptor buffer overlaps a virtqueue ring"
LATE = f"guest did not finish within {TIMEOUT} s (see --timeout)"
MIB = 1 << 20

# Inputs: a small random file; sparse files of 40 MiB (enough output
# capacity for a 32 MiB attack, below copy's 64 MiB I/O-thread threshold),
# 96 MiB (above it: the output has an I/O thread) and 256 MiB (room for a
# 256 MiB request); 256 MiB of data (reads that really copy, not memset).
INPUTS = {
    "small": lambda f: f.write(os.urandom(70000)),
    "sparse40m": lambda f: f.truncate(40 * MIB),
    "sparse96m": lambda f: f.truncate(96 * MIB),
    "sparse256m": lambda f: f.truncate(256 * MIB),
    "data256m": lambda f: [f.write(bytes([0x5a]) * MIB) for _ in range(256)],
}

# id: (guest, input, the error line's start)
CASES = {
    "desc_outside_ram": ("desc_outside_ram", "small",
                         "guest misbehaved: descriptor buffer lies outside guest memory a device may use"),
    "write_past_capacity": ("write_past_capacity", "small",
                            "guest misbehaved: block request beyond the device's capacity"),
    "loop_forever": ("loop_forever", "small", LATE),
    "triple_fault": ("triple_fault", "small", "guest crashed: triple fault"),
    "garbage_message": ("garbage_message", "small", "guest misbehaved: result message has a bad header"),
    "halt_without_result": ("halt_without_result", "small", "guest stopped without a result"),
    "null_deref": ("null_deref", "small", "guest crashed: page fault at rip "),
    "wrong_result_op": ("wrong_result_op", "small", "guest misbehaved: result is for another operation"),
    "undeclared_records": ("undeclared_records", "small",
                           "guest misbehaved: records of a kind the operation does not use"),
    # Issue 10: a read that re-arms the queue it is served from (the host
    # never returned to KVM_RUN, so the deadline never fired)...
    "rearm_avail_by_read": ("rearm_avail_by_read", "sparse40m", OVERLAP),
    # ...the same on the output's I/O thread (settle() waited forever)...
    "rearm_avail_by_read_io_thread": ("rearm_avail_by_read", "sparse96m", OVERLAP),
    # ...through the descriptor table instead of avail.idx...
    "rearm_desc_by_read": ("rearm_desc_by_read", "sparse40m", OVERLAP),
    # ...and into another device's ring.
    "rearm_other_ring": ("rearm_other_ring", "small", OVERLAP),
    # One notify of 256 requests of 64 x 4 MiB: reads on the vCPU thread,
    # writes on the output's I/O thread, waited for or not.
    "flood_input": ("flood_input", "data256m", LATE),
    "flood_output_wait": ("flood_output_wait", "sparse256m", LATE),
    "flood_output_spin": ("flood_output_spin", "sparse256m", LATE),
}


def listing(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@needs_kvm
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_guest_ends_cleanly(instar_testhooks, test_guests_dir, tmp_path, case):
    guest, input_kind, message = CASES[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    src = inputs / "input.bin"
    with open(src, "wb") as f:
        INPUTS[input_kind](f)
    src_before = hashlib.sha256(src.read_bytes()).hexdigest()
    work = tmp_path / "work"
    work.mkdir()
    existing = work / "output.bin"
    existing.write_bytes(b"precious")
    before = listing(work)

    env = dict(os.environ, INSTAR_GUEST_DIR=str(test_guests_dir / guest))
    start = time.monotonic()
    r = run([instar_testhooks, "copy", "--timeout", str(TIMEOUT), src, existing], env=env, timeout=30)
    elapsed = time.monotonic() - start

    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("instar: copy: " + message), r.stderr
    assert r.stderr.count("\n") == 1
    assert elapsed < TIMEOUT + 1, f"{elapsed:.2f} s"
    assert listing(work) == before, "a file was created, changed or left behind"
    assert hashlib.sha256(src.read_bytes()).hexdigest() == src_before
    src.unlink()  # pytest keeps the last runs' directories


def test_only_testhooks_honours_guest_dir(instar, instar_testhooks, tmp_path):
    """An installed instar runs its embedded guests whatever the environment
    says: the variable's name is not even in the binary. (With KVM, the
    next test shows it running one.)"""
    assert b"INSTAR_GUEST_DIR" not in instar.read_bytes()
    assert b"INSTAR_GUEST_DIR" in instar_testhooks.read_bytes()
    src = tmp_path / "input.bin"
    src.write_bytes(os.urandom(70000))
    # The VM's guest binary is loaded before /dev/kvm is opened, so this
    # holds on a machine without KVM too.
    env = dict(os.environ, INSTAR_GUEST_DIR=str(tmp_path / "nowhere"), INSTAR_SANDBOX="kvm")
    r = run([instar_testhooks, "copy", src, tmp_path / "a.bin"], env=env)
    assert r.returncode == 1 and "cannot open guest binary" in r.stderr, r.stderr
    # The release binary, in the sandbox the tests run.
    env = dict(os.environ, INSTAR_GUEST_DIR=str(tmp_path / "nowhere"))
    r = run([instar, "copy", src, tmp_path / "b.bin"], env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b.bin").read_bytes() == src.read_bytes()


@needs_kvm
def test_release_binary_ignores_a_hostile_guest_dir(instar, test_guests_dir, tmp_path):
    src = tmp_path / "input.bin"
    src.write_bytes(os.urandom(70000))
    env = dict(os.environ, INSTAR_GUEST_DIR=str(test_guests_dir / "loop_forever"))
    r = run([instar, "copy", "--timeout", str(TIMEOUT), src, tmp_path / "out.bin"], env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()


INFO_CASES = {
    "newline": "invalid info result from the guest: extent file 0 file name has a byte no extent line can hold",
    "many": "guest misbehaved: more records than the operation allows",
    "lie": "invalid info result from the guest: vmdk extent 0 is not in the file attached for it",
    "again": "invalid info result from the guest: 0 vmdk extents for 1 extent files",
}


@needs_kvm
@pytest.mark.parametrize("case", sorted(INFO_CASES))
def test_hostile_info_guest_and_extent_files(instar_testhooks, test_guests_dir, tmp_path, case):
    """The host opens only the files a first run names, checked, once: a
    guest cannot make it open more, or take an answer about other files."""
    (tmp_path / "img.vmdk").write_bytes(case.encode() + b"\0" * 512)
    (tmp_path / "x.raw").write_bytes(b"\0" * 4096)
    env = dict(os.environ, INSTAR_GUEST_DIR=str(test_guests_dir / "info_extent_files"))
    r = run([instar_testhooks, "info", "--timeout", "5", "img.vmdk"], cwd=tmp_path, env=env, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert INFO_CASES[case] in r.stderr, r.stderr
    assert r.stderr.startswith("instar: info: ") and r.stderr.count("\n") == 1
