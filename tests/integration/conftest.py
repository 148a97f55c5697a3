"""Shared fixtures: where the built instar is, and whether KVM is usable.

Tests that need /dev/kvm are skipped, with the reason shown (pytest -rs),
only where KVM is really unavailable.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("INSTAR_BUILD_DIR", REPO / "build"))
INSTAR = Path(os.environ.get("INSTAR", BUILD / "instar"))


def kvm_unavailable_reason():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        return f"/dev/kvm is not usable here ({e.strerror}); sandboxed tests need KVM"
    os.close(fd)
    return None


KVM_REASON = kvm_unavailable_reason()
needs_kvm = pytest.mark.skipif(KVM_REASON is not None, reason=KVM_REASON or "")


def run(args, **kw):
    """Runs a command, returns CompletedProcess with text output."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([str(a) for a in args], **kw)


@pytest.fixture(scope="session")
def instar():
    if not INSTAR.exists():
        pytest.fail(f"{INSTAR} is missing: run `make build` first")
    return INSTAR


@pytest.fixture(scope="session")
def qemu_img():
    path = shutil.which("qemu-img")
    if path is None:
        pytest.fail("qemu-img is missing: `make test` installs qemu-utils")
    return path


@pytest.fixture(scope="session")
def test_guests_dir():
    return BUILD / "test_guests"
