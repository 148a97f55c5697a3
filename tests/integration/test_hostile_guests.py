"""Guests that break the rules on purpose (tests/test_guests): each run
must end in one clear error line and exit 1, well inside the deadline, with
no file touched outside the declared output."""
import os
import time

import pytest

from conftest import needs_kvm, run

pytestmark = needs_kvm

CASES = {
    "desc_outside_ram": "guest misbehaved: descriptor buffer lies outside guest memory a device may use",
    "write_past_capacity": "guest misbehaved: block request beyond the device's capacity",
    "loop_forever": "guest did not finish within 2 s (see --timeout)",
    "triple_fault": "guest crashed: triple fault",
    "garbage_message": "guest misbehaved: result message has a bad header",
    "halt_without_result": "guest stopped without a result",
    "null_deref": "guest crashed: page fault at rip ",
    "wrong_result_op": "guest misbehaved: result is for another operation",
    "undeclared_records": "guest misbehaved: records of a kind the operation does not use",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_guest_ends_cleanly(instar, test_guests_dir, tmp_path, case):
    work = tmp_path / "work"
    work.mkdir()
    src = work / "input.bin"
    src.write_bytes(os.urandom(70000))
    existing = work / "output.bin"
    existing.write_bytes(b"precious")
    before = {p.name: p.read_bytes() for p in work.iterdir()}

    env = dict(os.environ, INSTAR_GUEST_DIR=str(test_guests_dir / case))
    start = time.monotonic()
    r = run([instar, "copy", "--timeout", "2", src, existing], env=env, timeout=30)
    elapsed = time.monotonic() - start

    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("instar: copy: " + CASES[case]), r.stderr
    assert r.stderr.count("\n") == 1
    assert elapsed < 10
    after = {p.name: p.read_bytes() for p in work.iterdir()}
    assert after == before, "a file was created, changed or left behind"


INFO_CASES = {
    "newline": "invalid info result from the guest: extent file 0 file name has a byte no extent line can hold",
    "many": "guest misbehaved: more records than the operation allows",
    "lie": "invalid info result from the guest: vmdk extent 0 is not in the file attached for it",
    "again": "invalid info result from the guest: 0 vmdk extents for 1 extent files",
}


@pytest.mark.parametrize("case", sorted(INFO_CASES))
def test_hostile_info_guest_and_extent_files(instar, test_guests_dir, tmp_path, case):
    """The host opens only the files a first run names, checked, once: a
    guest cannot make it open more, or take an answer about other files."""
    (tmp_path / "img.vmdk").write_bytes(case.encode() + b"\0" * 512)
    (tmp_path / "x.raw").write_bytes(b"\0" * 4096)
    env = dict(os.environ, INSTAR_GUEST_DIR=str(test_guests_dir / "info_extent_files"))
    r = run([instar, "info", "--timeout", "5", "img.vmdk"], cwd=tmp_path, env=env, timeout=30)
    assert r.returncode == 1 and r.stdout == ""
    assert INFO_CASES[case] in r.stderr, r.stderr
    assert r.stderr.startswith("instar: info: ") and r.stderr.count("\n") == 1
