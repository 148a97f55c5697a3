"""Shared fixtures: where the built instar (and instar-testhooks) is, and
which sandbox it runs its guests in.

The tests run instar in the sandbox INSTAR_SANDBOX names; when it is unset,
in the KVM micro-VM where /dev/kvm is usable, else in the op process
(ARCHITECTURE.md, "Sandboxes"), so what instar does is tested on any
machine. Tests of the VM itself (hostile guest binaries) are skipped, with
the reason shown (pytest -rs), where the VM is not what runs.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("INSTAR_BUILD_DIR", REPO / "build"))
INSTAR = Path(os.environ.get("INSTAR", BUILD / "instar"))
# The same command line, built to honour INSTAR_GUEST_DIR (CMake option
# INSTAR_TEST_HOOKS): every test that swaps the guest uses this one.
INSTAR_TESTHOOKS = Path(os.environ.get("INSTAR_TESTHOOKS", BUILD / "instar-testhooks"))


def kvm_unavailable_reason():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return f"/dev/kvm is not usable here ({e.strerror}); sandboxed tests need KVM"
    os.close(fd)
    return None


KVM_REASON = kvm_unavailable_reason()
SANDBOX = os.environ.get("INSTAR_SANDBOX") or ("kvm" if KVM_REASON is None else "process")
# Every instar the tests start inherits it.
os.environ["INSTAR_SANDBOX"] = SANDBOX
needs_kvm = pytest.mark.skipif(
    SANDBOX != "kvm",
    reason=(KVM_REASON or "") + f"; the tests run the {SANDBOX} sandbox, these test the VM")


def run(args, **kw):
    """Runs a command, returns CompletedProcess with text output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in args], **kw)


def run_qemu_img_luks(args, **kw):
    """Runs a qemu-img command that makes LUKS key material. qemu-img times
    its key derivation by thread CPU time and gives up ("Unable to get
    accurate CPU usage") when a loaded host's clock says too little: that
    is qemu-img's flake, not the test's, so that one failure is tried again
    (up to twenty times: a failing try takes milliseconds); any other result
    is returned as it is."""
    for _ in range(20):
        made = run(args, **kw)
        if made.returncode == 0 or "Unable to get accurate CPU usage" not in made.stderr:
            break
    return made


@pytest.fixture(scope="session")
def instar():
    if not INSTAR.exists():
        pytest.fail(f"{INSTAR} is missing: run `make build` first")
    return INSTAR


@pytest.fixture(scope="session")
def instar_testhooks():
    if not INSTAR_TESTHOOKS.exists():
        pytest.fail(f"{INSTAR_TESTHOOKS} is missing: build with -DINSTAR_TEST_HOOKS=ON (the default)")
    return INSTAR_TESTHOOKS


@pytest.fixture(scope="session")
def qemu_img():
    path = shutil.which("qemu-img")
    if path is None:
        pytest.fail("qemu-img is missing: `make test` installs qemu-utils")
    return path


@pytest.fixture(scope="session")
def test_guests_dir():
    """Guests for INSTAR_GUEST_DIR, which only instar_testhooks reads."""
    return BUILD / "test_guests"
