"""The adversarial image suite (issue 5; docs/security.md, "Adversarial suite").

Every case in adversarial_images.CASES is crafted in its own directory and
handed to `instar info` (human, JSON, with -f, with --backing-chain where
the image names a backing file) and to `instar create -b` (with -F, without
-F, and a vmdk child for vmdk cases). Each run must:

* end within the deadline, never by a signal, with no sanitizer report;
* succeed, or fail with exit status 1 and exactly one `instar: ` line;
* open no path outside the case's directories (traced with strace): no
  file an image names, only the case's files, /dev/kvm, the time zone and
  the directories above the case's (which realpath walks);
* leave no file behind when it fails, and change no input;
* agree with live qemu-img 7.2: the same output where both accept the
  image, and where only one does, a difference docs/ name (DIFFERENCES).
"""
import hashlib
import os
import re
import resource
import shutil
import subprocess
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adversarial_images import CASES, escape_like_instar
from conftest import REPO, run
from imagecompare import first_difference, normalised


STRACE = shutil.which("strace")
INSTAR_TIMEOUT = 10      # instar's own --timeout
PROCESS_TIMEOUT = 60     # the test's limit on any process, well above it
QEMU_MEMORY = 4 << 30    # a bound on what a hostile image can make qemu-img allocate

SANITIZER_MARKS = (b"AddressSanitizer", b"UndefinedBehaviorSanitizer", b"LeakSanitizer", b"runtime error:")

# Where instar and qemu-img 7.2 disagree on whether a case is an image:
# (case, kind of run) -> (document, words of the rule it states). Kinds:
# "info", "chain" (--backing-chain), "create" (create -b). A difference
# not listed fails its case, and so does a listed one that no longer
# happens or whose words are gone from the document.
RAW_FALLBACK = ("docs/quirks.md", "Unknown bytes are not raw.")
EXTENT_OUTSIDE = ("docs/info.md", "extent files outside the allowlist")
MULTI_FILE_VMDK_BACKING = ("docs/create.md", "a backing file whose data lives in other files")
NO_BACKING_CHAIN = ("docs/create.md", "`-b` opens the file it names and no other")
DIFFERENCES = {
    # qemu-img takes what matches no format for raw; instar wants -f raw
    # (fixed vpc images have no signature at the start: raw to qemu's probe).
    **{(c, "info"): RAW_FALLBACK for c in (
        "truncated-qcow2-010-at-0x0", "truncated-qcow2-010-at-0x3", "truncated-qcow2-010-at-0x4",
        "truncated-qcow2-11-at-0x4", "truncated-vhdx-dynamic-at-0x4", "truncated-vpc-fixed-footer-8",
        "truncated-vpc-fixed-footer-64", "truncated-vpc-fixed-footer-511", "size-vpc-fixed-1PiB",
        "size-vpc-fixed-2^64-1", "vpc-fixed-bad-footer-checksum")},
    # Extents in other files: qemu-img opens any path (/etc/passwd
    # included); instar only beneath the allowlist.
    **{(c, "info"): EXTENT_OUTSIDE for c in ("vmdk-extent-flat-etc-passwd", "vmdk-extent-flat-dotdot")},
    **{(c, "create"): MULTI_FILE_VMDK_BACKING for c in (
        "vmdk-extent-flat-etc-passwd", "vmdk-extent-flat-dotdot", "polyglot-vmdk-text-descriptor-then-qcow2",
        "vmdk-descriptor-file-over-1MiB")},
    **{(c, "create"): ("docs/create.md", "instar refuses them as too large") for c in (
        "size-vmdk-1PiB", "size-vmdk-stream-1PiB")},
    ("chain-17-deep", "chain"): ("docs/info.md", "The chain is at most 16 images deep"),
    ("backing-name-qcow2-dotdot", "chain"): ("docs/info.md", "must stay inside the allowlist"),
    # qemu-img create -b opens the backing file's own chain and fails on it.
    **{(c, "create"): NO_BACKING_CHAIN for c in (
        "chain-loop-self", "chain-loop-2", "chain-loop-3", "chain-loop-through-dotdot", "chain-backing-format-lies",
        "chain-vmdk-parent-loop", "backing-name-qcow2-etc-passwd", "backing-name-qcow2-dotdot-deep",
        "backing-name-qcow2-http-url", "backing-name-qcow2-nbd-url", "backing-name-qcow2-json-pseudo",
        "backing-name-qcow2-file-protocol", "backing-name-qcow2-1023-bytes", "backing-name-qcow2-newline",
        "backing-name-qcow2-terminal-escape", "backing-name-qcow2-invalid-utf8", "backing-name-qcow2-backslash",
        "backing-name-qcow2-symlink-out", "backing-name-qcow2-nul-inside", "backing-name-vmdk-etc-passwd",
        "backing-name-vmdk-dotdot", "backing-name-vmdk-json-pseudo", "backing-name-vmdk-newline",
        "backing-name-vmdk-terminal-escape", "backing-name-vmdk-invalid-utf8")},
}


def _words(text):
    return " ".join(text.split())


def _snapshot(root: Path):
    """Every file under root with its size and content hash."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink():
                out[str(p.relative_to(root))] = ("link", os.readlink(p))
                continue
            out[str(p.relative_to(root))] = (p.stat().st_size, hashlib.sha1(p.read_bytes()).hexdigest())
    return out


# --- strace: which paths did instar touch? ----------------------------------

_PAIR = re.compile(rb'(AT_FDCWD|-?\d+)<((?:\\x[0-9a-f]{2})*)>, "((?:\\x[0-9a-f]{2})*)"')
_STRING = re.compile(rb'"((?:\\x[0-9a-f]{2})*)"')
_RESULT_FD = re.compile(rb"= -?\d+<((?:\\x[0-9a-f]{2})*)>")


def _unhex(s: bytes) -> bytes:
    return bytes.fromhex(s.replace(b"\\x", b"").decode())


def traced_paths(log_files, cwd: Path):
    """(syscall, path, failed-under-RESOLVE_BENEATH) for every path in the traces."""
    for log in log_files:
        for line in Path(log).read_bytes().splitlines():
            m = re.match(rb"(\w+)\((.*)\) += (.*)$", line)
            if not m:
                continue
            call, args, result = m.group(1).decode(), m.group(2), m.group(3)
            confined_failure = call == "openat2" and b"RESOLVE_BENEATH" in args and result.startswith(b"-1")
            if call == "execve":
                args = args.split(b", [", 1)[0]
            for fd_path, rel in [(_unhex(a), _unhex(b)) for _, a, b in _PAIR.findall(args)]:
                if not fd_path.startswith(b"/"):
                    continue  # a pipe or socket (stdout), not a file system path
                yield call, os.path.normpath(os.path.join(fd_path, rel) if rel else fd_path), confined_failure
            for s in _STRING.findall(_PAIR.sub(b"", args)):
                p = _unhex(s)
                yield call, os.path.normpath(os.path.join(bytes(cwd), p)), confined_failure
            for s in _RESULT_FD.findall(result):
                if _unhex(s).startswith(b"/"):
                    yield call, _unhex(s), False


def _shared_library(path: bytes) -> bool:
    """What the dynamic loader opens (sanitizer builds are dynamically linked)."""
    if path in (b"/etc/ld.so.cache", b"/etc/ld.so.preload"):
        return True
    system = path.startswith((b"/lib/", b"/lib64/", b"/usr/lib/", b"/usr/lib64/"))
    return system and b".so" in os.path.basename(path)


def check_paths(log_files, cwd: Path, allowed_dirs, instar_path):
    allowed = [os.fsencode(os.path.realpath(a)) for a in allowed_dirs]
    binary = os.fsencode(os.path.realpath(instar_path))
    fixed = {b"/dev/kvm", b"/etc/localtime", b"/dev/null", b"/proc/self/exe", binary}
    bad = []
    for call, path, confined_failure in traced_paths(log_files, cwd):
        if confined_failure:
            continue  # the kernel refused an escape from an allowed directory
        if b"passwd" in path:
            bad.append((call, path))
            continue
        ok = (path in fixed or path.startswith(b"/usr/share/zoneinfo/") or path.startswith(b"/proc/self/")
              or _shared_library(path)
              or path == b"/" or any(path == a or path.startswith(a + b"/") or a.startswith(path + b"/")
                                     for a in allowed))
        if not ok:
            bad.append((call, path))
    return bad


# --- running the two programs -------------------------------------------------

def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (QEMU_MEMORY, QEMU_MEMORY))


class Result:
    def __init__(self, argv, cwd, rc, out, err, seconds, logs=()):
        self.argv, self.cwd, self.rc, self.out, self.err, self.seconds, self.logs = argv, cwd, rc, out, err, seconds, logs

    @property
    def ok(self):
        return self.rc == 0

    def __repr__(self):
        return f"{' '.join(map(str, self.argv[:8]))} (in {self.cwd}) -> {self.rc}: {self.err[:300]!r}"


def run_instar(instar, args, cwd, trace_dir, key):
    argv = [str(instar), *args[:1], "--timeout", str(INSTAR_TIMEOUT), *args[1:]]
    if STRACE:
        # Every system call that takes a path, per process, strings in hex.
        argv = [STRACE, "-f", "-ff", "-qq", "-y", "-xx", "-s", "65536", "-e", "trace=%file",
                "-o", str(trace_dir / key), *argv]
    start = time.monotonic()
    try:
        r = run(argv, cwd=cwd, text=False, timeout=PROCESS_TIMEOUT)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or b"", e.stderr or b""
    logs = sorted(trace_dir.glob(key + ".*")) if STRACE else []
    return Result(argv, cwd, rc, out, err, time.monotonic() - start, logs)


def run_qemu(qemu_img, args, cwd):
    start = time.monotonic()
    try:
        r = run([qemu_img, *args], cwd=cwd, text=False, timeout=PROCESS_TIMEOUT / 3, preexec_fn=_limit_memory)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = "timeout", b"", b""
    return Result([qemu_img, *args], cwd, rc, out, err, time.monotonic() - start)


@pytest.fixture(scope="session")
def outside_image(tmp_path_factory, qemu_img):
    """A valid image to place outside each case's directory: opening it is
    easy, so only the allowlist stops it."""
    d = tmp_path_factory.mktemp("outside")
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", "x", "64M"], check=True, cwd=d)
    return d / "x"


def test_strace_is_there():
    """The path checks need strace (scripts/install-deps installs it)."""
    if STRACE is None:
        pytest.skip("strace is missing: the adversarial suite ran WITHOUT checking which paths instar opens")


if STRACE is None:
    warnings.warn("strace is missing: the adversarial suite cannot check which paths instar opens")


def plan_runs(tmp_path, d, crafted):
    """(kind, key, args, instar's directory, qemu-img's directory)."""
    img, fmt = crafted.image, crafted.fmt
    runs = [("info", "info-human", ["info", img], d, d),
            ("info", "info-json", ["info", "--output", "json", img], d, d)]
    for f in ([fmt] if fmt else []) + list(crafted.extra_formats):
        runs.append(("info", f"info-f-{f}", ["info", "-f", f, "--output", "json", img], d, d))
    if crafted.chain:
        runs += [("chain", "chain-human", ["info", "--backing-chain", img], d, d),
                 ("chain", "chain-json", ["info", "--backing-chain", "--output", "json", img], d, d)]
    # The new image in a directory of its own (one per program), naming
    # the case's image as ../img/IMAGE.
    creates = [("create-noF", ["create", "-f", "qcow2", "-b", f"../img/{img}", "new.qcow2"])]
    if fmt:
        creates.append(("create-F", ["create", "-f", "qcow2", "-b", f"../img/{img}", "-F", fmt, "new.qcow2"]))
    if fmt == "vmdk":
        creates.append(("create-vmdk", ["create", "-f", "vmdk", "-b", f"../img/{img}", "-F", "vmdk", "new.vmdk"]))
    for key, args in creates:
        for who in ("instar", "qemu"):
            (tmp_path / f"{key}-{who}").mkdir()
        runs.append(("create", key, args, tmp_path / f"{key}-instar", tmp_path / f"{key}-qemu"))
    if crafted.copy:
        (tmp_path / "copy").mkdir()
        runs.append(("copy", "copy", ["copy", f"../img/{img}", "out.img"], tmp_path / "copy", None))
    return runs


def check_on_its_own(o, kind, args, cwd, d, crafted, instar):
    """What every instar run must hold to, whatever qemu-img does."""
    problems = []
    if o.rc == "timeout" or o.rc < 0:
        return ["did not end by itself (timeout or signal)"]
    if any(m in o.err for m in SANITIZER_MARKS):
        problems.append("sanitizer report")
    if o.rc not in (0, 1):
        problems.append(f"exit status {o.rc}")
    if any(c < 0x20 and c != 0x0A or c >= 0x7F for c in o.err):
        problems.append("stderr carries control or non-ASCII bytes")
    if o.rc == 1:
        prefix = b"instar: " + args[0].encode() + b": "
        if not (o.err.startswith(prefix) and o.err.count(b"\n") == 1 and o.err.endswith(b"\n")):
            problems.append(f"failure is not one `instar: {args[0]}:` line")
    elif o.err and not all(line.startswith(b"instar: create: warning: ") for line in o.err.splitlines()):
        problems.append("success with stderr")
    if STRACE:
        allowed = [d] + ([cwd] if kind in ("create", "copy") else [])
        bad = check_paths(o.logs, cwd, allowed, instar)
        if bad:
            problems.append(f"touched paths outside the allowlist: {bad[:5]}")
        # The trace is read right: it shows the image being opened.
        if os.fsencode(d / crafted.image) not in {p for _, p, _ in traced_paths(o.logs, cwd)}:
            problems.append(f"the trace does not show {crafted.image} opened")
    if kind == "chain" and crafted.chain_error and o.rc == 1 and crafted.chain_error.encode() not in o.err:
        problems.append(f"the error does not say {crafted.chain_error!r}")
    if kind == "copy" and (o.rc != 0 or (cwd / "out.img").read_bytes() != (d / crafted.image).read_bytes()):
        problems.append("copy did not reproduce the bytes")
    if kind == "create":
        left = sorted(os.listdir(cwd))
        if o.rc != 0 and left:
            problems.append(f"failed and left {left}")
        if o.rc == 0 and left != [args[-1]]:
            problems.append(f"left {left}")
    return problems


def check_against_qemu(o, t, kind, args, cwd, qcwd, crafted):
    """Both accept the case and say the same, or neither accepts it. (A
    difference is returned for the caller to look up in DIFFERENCES.)"""
    if o.ok != t.ok:
        return [], True
    if not o.ok:
        return [], False
    problems = []
    expected = t.out
    if crafted.name and "json" not in args:
        expected = expected.replace(crafted.name, escape_like_instar(crafted.name))
    if o.out != expected:
        problems.append(f"output differs from qemu-img's:\n{o.out[:2000]!r}\n{expected[:2000]!r}")
    if kind == "create":
        new = args[-1]
        diff = first_difference(normalised(args[2], (cwd / new).read_bytes()),
                                normalised(args[2], (qcwd / new).read_bytes()))
        if diff:
            problems.append(f"created image differs from qemu-img's: {diff}")
    return problems, False


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial(instar, qemu_img, tmp_path, outside_image, case):
    d = tmp_path / "img"            # the case's files; instar may open only these
    d.mkdir()
    shutil.copy(outside_image, tmp_path / "x")
    crafted = case.build(d)
    traces = tmp_path / "traces"
    traces.mkdir()
    before = _snapshot(d)
    runs = plan_runs(tmp_path, d, crafted)

    def qemu_runs_it(kind):
        return kind != "copy" and not (kind == "create" and crafted.loops)

    with ThreadPoolExecutor(max_workers=3) as pool:
        ours = {key: pool.submit(run_instar, instar, args, cwd, traces, key) for _, key, args, cwd, _ in runs}
        theirs = {key: pool.submit(run_qemu, qemu_img, args, qcwd) for kind, key, args, _, qcwd in runs
                  if qemu_runs_it(kind)}
        ours = {k: f.result() for k, f in ours.items()}
        theirs = {k: f.result() for k, f in theirs.items()}

    problems = []
    differing = set()
    for kind, key, args, cwd, qcwd in runs:
        o = ours[key]
        found = check_on_its_own(o, kind, args, cwd, d, crafted, instar)
        if kind == "create" and crafted.loops and o.ok:
            differing.add(kind)  # qemu-img runs out of memory on the loop
        elif qemu_runs_it(kind) and isinstance(o.rc, int) and o.rc >= 0:
            t = theirs[key]
            more, differs = check_against_qemu(o, t, kind, args, cwd, qcwd, crafted)
            found += more
            if differs:
                differing.add(kind)
                if (case.id, kind) not in DIFFERENCES:
                    found.append(f"qemu-img {'accepts' if t.ok else 'refuses'} it ({t.rc}: {t.err[:300]!r}) "
                                 "and no documented difference says why")
        problems += [f"{key}: {o!r}: {p}" for p in found]

    if crafted.chain_error and not crafted.chain:
        problems.append("chain_error given for a case without --backing-chain")
    for kind in ("info", "chain", "create"):
        if (case.id, kind) in DIFFERENCES and kind not in differing:
            problems.append(f"{kind}: DIFFERENCES lists a difference that no longer happens")
    if _snapshot(d) != before:
        problems.append("the case's files changed")
    assert not problems, "\n".join(problems)


def test_differences_are_documented():
    ids = {c.id for c in CASES}
    for (case_id, kind), (doc, words) in DIFFERENCES.items():
        assert case_id in ids and kind in ("info", "chain", "create"), (case_id, kind)
        assert _words(words) in _words((REPO / doc).read_text()), f"{doc} does not say {words!r}"


@pytest.mark.skipif(STRACE is None, reason="strace is missing")
def test_the_path_check_sees_an_outside_open(instar, tmp_path, outside_image):
    """The checker itself: instar asked to open a file outside the case's
    directory does so, and check_paths reports exactly that file."""
    d = tmp_path / "img"
    d.mkdir()
    shutil.copy(outside_image, tmp_path / "x")
    traces = tmp_path / "traces"
    traces.mkdir()
    r = run_instar(instar, ["info", "../x"], d, traces, "outside")
    assert r.rc == 0, r
    bad = check_paths(r.logs, d, [d], instar)
    assert bad and {p for _, p in bad} == {os.fsencode(tmp_path / "x")}, bad
