"""Killed or interrupted, instar leaves nothing behind: SIGTERM, SIGINT and
SIGHUP at any point of a large copy or a preallocating create stop the
guest, discard the output and end with one line and status 128+signal;
SIGKILL ends it at once, and the unnamed output (O_TMPFILE) goes with it.
In every case the directory holds exactly what it held before (an existing
target intact), and no sandbox child outlives the run.

The tests with a "stuck" child need no KVM: the child is made to hang
before its VM exists (its guest binary, INSTAR_GUEST_DIR, is a FIFO nobody
writes), which is all the parent's side needs."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run


def default_signals():
    """instar keeps a signal ignored that it was started with ignored (as
    nohup and a shell's background jobs start programs); the tests that
    send one start it with the default, however the suite itself was
    started."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)

# Large enough that a copy takes well over half a second here (1–2 GiB/s at
# best); made of one random 4 MiB chunk repeated, so it is quick to write
# and no block is zero (a zero block would be skipped, not copied).
BIG_INPUT = 2 << 30
CREATE_SIZE = "6G"  # preallocation=full: the guest writes every byte

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL]
DELAYS = [0.05, 0.2, 0.5]
CASES = [(sig, delay) for sig in SIGNALS for delay in DELAYS]


def case_id(case):
    sig, delay = case
    return f"{sig.name}-{int(delay * 1000)}ms"


def tmpfile_supported(directory):
    try:
        os.close(os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600))
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "big.raw"
    chunk = os.urandom(4 << 20)
    with open(path, "wb") as f:
        for _ in range(BIG_INPUT // len(chunk)):
            f.write(chunk)
    return path


def snapshot(directory):
    return {p.name: p.read_bytes() for p in Path(directory).iterdir()}


def processes_naming(marker):
    """Pids of live processes whose command line contains marker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def interrupt(cmd, sig, delay, work, target, command):
    """Runs cmd, sends sig after delay, checks how it ended and what it left."""
    if sig == signal.SIGKILL and not tmpfile_supported(work):
        pytest.skip("the test directory's file system has no O_TMPFILE: a killed run may leave a temporary file")
    before = snapshot(work)
    p = subprocess.Popen([str(a) for a in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=default_signals)
    time.sleep(delay)
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    err = err.decode()
    if sig == signal.SIGKILL:
        assert p.returncode == -signal.SIGKILL, err
        assert err == ""
    else:
        assert p.returncode == 128 + sig, err
        assert err == f"instar: {command}: interrupted by {sig.name}\n"
    assert snapshot(work) == before, "the directory changed"
    # The sandbox child dies with the parent (killed by it, or by
    # PDEATHSIG after SIGKILL).
    deadline = time.monotonic() + 2
    while processes_naming(str(target)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_naming(str(target)) == []


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_copy_interrupted_leaves_nothing(instar, big_input, tmp_path, case):
    sig, delay = case
    target = tmp_path / "out.raw"
    if CASES.index(case) % 2:
        target.write_bytes(b"precious")
    interrupt([instar, "copy", "-p", big_input, target], sig, delay, tmp_path, target, "copy")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_create_interrupted_leaves_nothing(instar, tmp_path, case):
    sig, delay = case
    target = tmp_path / "out.qcow2"
    if CASES.index(case) % 2 == 0:
        target.write_bytes(b"precious")
    interrupt([instar, "create", "-q", "-f", "qcow2", "-o", "preallocation=full", target, CREATE_SIZE],
              sig, delay, tmp_path, target, "create")


def test_signal_ignored_at_start_stays_ignored(instar, big_input, tmp_path):
    """nohup's SIGHUP (and a background job's SIGINT) are not taken over."""
    target = tmp_path / "out.raw"
    p = subprocess.Popen([str(instar), "copy", str(big_input), str(target)], stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    time.sleep(0.2)
    p.send_signal(signal.SIGHUP)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert target.stat().st_size == big_input.stat().st_size
    with open(target, "rb") as a, open(big_input, "rb") as b:
        assert a.read(1 << 20) == b.read(1 << 20)


def children_of(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def stuck_guests(tmp_path):
    """An INSTAR_GUEST_DIR whose guest binaries are FIFOs: a sandbox child
    opening one hangs there until it is killed (before it needs /dev/kvm,
    so the VM sandbox is named whatever the tests run). Only
    instar-testhooks reads the variable."""
    d = tmp_path / "guests"
    d.mkdir()
    for op in ("copy", "create", "probe", "info"):
        os.mkfifo(d / f"{op}.bin")
    return dict(os.environ, INSTAR_GUEST_DIR=str(d), INSTAR_SANDBOX="kvm")


def stuck_child_of(p, within=5.0):
    """The pid of p's sandbox child (the parent tracks it from its fork)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        children = children_of(p.pid)
        if children:
            return children[0]
        time.sleep(0.005)
    raise AssertionError("no sandbox child appeared")


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("command", ["copy", "create"])
def test_interrupted_while_the_child_runs(instar_testhooks, stuck_guests, tmp_path, sig, command):
    """The parent's side alone: the child killed and reaped, the output
    discarded, one line, 128+signal (or -9), the directory as it was."""
    work = tmp_path / "work"
    work.mkdir()
    target = work / "out.img"
    target.write_bytes(b"precious")
    src = tmp_path / "in.raw"
    src.write_bytes(b"x" * 65536)
    cmd = ([instar_testhooks, "copy", src, target] if command == "copy"
           else [instar_testhooks, "create", "-q", "-f", "qcow2", target, "1G"])
    before = snapshot(work)
    p = subprocess.Popen([str(a) for a in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=stuck_guests,
                         preexec_fn=default_signals)
    child = stuck_child_of(p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    if sig == signal.SIGKILL:
        assert p.returncode == -signal.SIGKILL
    else:
        assert p.returncode == 128 + sig
        assert err.decode() == f"instar: {command}: interrupted by {sig.name}\n"
    assert snapshot(work) == before
    deadline = time.monotonic() + 2
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    state = (Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
             if Path(f"/proc/{child}").exists() else "gone")
    assert state in ("gone", "Z"), "the sandbox child outlived the run"


def test_child_killed_by_a_signal_of_its_own(instar_testhooks, stuck_guests, tmp_path):
    """SIGTERM that reaches only the sandbox child (a process-group kill
    the parent has not seen yet, or a stray kill) ends the run the same way."""
    src = tmp_path / "in.raw"
    src.write_bytes(b"x" * 65536)
    target = tmp_path / "out.raw"
    p = subprocess.Popen([str(instar_testhooks), "copy", str(src), str(target)], stderr=subprocess.PIPE,
                         env=stuck_guests)
    os.kill(stuck_child_of(p), signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 128 + signal.SIGTERM
    assert err.decode() == "instar: copy: interrupted by SIGTERM\n"
    assert not target.exists()


def test_child_past_the_deadline_is_killed(instar_testhooks, stuck_guests, tmp_path):
    """A sandbox child that cannot end its own run (stopped here, as one
    stuck anywhere the guest's deadline does not reach would be) is killed
    by the parent shortly after the deadline, with the deadline's words."""
    work = tmp_path / "work"
    work.mkdir()
    target = work / "out.raw"
    target.write_bytes(b"precious")
    src = tmp_path / "in.raw"
    src.write_bytes(b"x" * 65536)
    before = snapshot(work)
    start = time.monotonic()
    p = subprocess.Popen([str(instar_testhooks), "copy", "--timeout", "1", str(src), str(target)], stderr=subprocess.PIPE,
                         env=stuck_guests)
    os.kill(stuck_child_of(p), signal.SIGSTOP)
    _, err = p.communicate(timeout=30)
    elapsed = time.monotonic() - start
    assert p.returncode == 1
    assert err.decode() == "instar: copy: guest did not finish within 1 s (see --timeout)\n"
    assert 1.0 <= elapsed < 2.0
    assert snapshot(work) == before
    assert processes_naming(str(target)) == []
