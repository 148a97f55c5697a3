"""Every adversarial image (adversarial_images.py) through `instar convert
-O raw`, with and without the format it claims: the run ends by itself
within its deadline, with exit 0 and the bytes qemu-img converts, or exit 1,
one escaped line and no output file; the case's files never change.

Where qemu-img converts an image that instar refuses, that is the same
kind of difference `info` has for the image (instar refuses it as an
image, or reads only beneath the allowlist, or has no reader for the
format yet: docs/convert.md); where instar converts what qemu-img
refuses, the test fails."""
import hashlib
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adversarial_images import CASES
from imagecompare import same_content

TIMEOUT = 10


def snapshot(root: Path):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p)] = ("link", os.readlink(p)) if p.is_symlink() else hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def convert(tool, args, cwd):
    start = time.monotonic()
    try:
        r = subprocess.run([str(tool), "convert", *args], cwd=cwd, capture_output=True, timeout=TIMEOUT + 50)
    except subprocess.TimeoutExpired:
        return "timeout", b"", time.monotonic() - start
    return r.returncode, r.stderr, time.monotonic() - start


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_convert(instar, qemu_img, tmp_path, case):
    d = tmp_path / "img"
    d.mkdir()
    crafted = case.build(d)
    if crafted.loops:
        pytest.skip("qemu-img follows the loop until memory runs out")
    before = snapshot(d)
    problems = []
    runs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for fmt in [None] + ([crafted.fmt] if crafted.fmt else []):
            for who in ("instar", "qemu"):
                w = tmp_path / f"{who}-{fmt}"
                w.mkdir()
                args = (["-f", fmt] if fmt else []) + ["-O", "raw", f"../img/{crafted.image}", "out.raw"]
                if who == "instar":
                    args = ["--timeout", str(TIMEOUT), *args]
                runs[(fmt, who)] = (w, pool.submit(convert, instar if who == "instar" else qemu_img, args, w))
    for fmt in [None] + ([crafted.fmt] if crafted.fmt else []):
        key = f"-f {fmt}" if fmt else "detected"
        w, future = runs[(fmt, "instar")]
        rc, err, took = future.result()
        ours_out = w / "out.raw"
        if rc == "timeout" or took > TIMEOUT + 5:
            problems.append(f"{key}: did not end within its deadline ({took:.1f} s)")
            continue
        if rc not in (0, 1):
            problems.append(f"{key}: exit status {rc}")
        if rc == 1:
            if not (err.startswith(b"instar: convert: ") and err.count(b"\n") == 1):
                problems.append(f"{key}: not one line: {err[:300]!r}")
            if any(c < 0x20 and c != 0x0A or c >= 0x7F for c in err):
                problems.append(f"{key}: stderr carries control or non-ASCII bytes")
            if os.listdir(w):
                problems.append(f"{key}: left {os.listdir(w)} behind")
        qw, qfuture = runs[(fmt, "qemu")]
        their_rc, their_err, _ = qfuture.result()
        if rc == 0 and their_rc == 0 and not same_content(ours_out, qw / "out.raw"):
            problems.append(f"{key}: output differs from qemu-img's")
        if rc == 0 and their_rc != 0:
            problems.append(f"{key}: instar converts what qemu-img refuses ({their_err[:200]!r})")
    if snapshot(d) != before:
        problems.append("the case's files changed")
    assert not problems, "\n".join(problems)
