"""instar's benchmarks. Each comparison runs instar and qemu-img alternately
(interleaved, so both see the same machine state), repeats, and reports
medians and the ratio instar/qemu-img. Results go to stdout and, with
--record, are appended to bench/README.md's results table by hand.

Not a test: nothing here passes or fails.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(cmd, env=None):
    start = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(map(str, cmd))}\n{r.stderr.decode()}")
    return elapsed


def interleaved(name, instar_cmd, qemu_cmd, runs, before=None):
    a, b = [], []
    for _ in range(runs):
        if before:
            before()
        a.append(wall(instar_cmd))
        if before:
            before()
        b.append(wall(qemu_cmd))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"{name}: instar {ma * 1000:.1f} ms, qemu-img {mb * 1000:.1f} ms, "
          f"ratio {ma / mb:.2f} (median of {runs})")
    return ma, mb


def launch_cost(instar, guests_dir, work, runs):
    """Whole-process cost of an empty guest op: start, build the VM, run a
    guest that answers at once, exit. Measured with hyperfine (no shell).
    The guest is swapped in through INSTAR_GUEST_DIR, so this runs
    instar-testhooks (the same executable, plus that variable) beside instar."""
    empty_in = work / "empty.in"
    empty_in.write_bytes(b"")
    env = dict(os.environ, INSTAR_GUEST_DIR=str(guests_dir / "empty"))
    testhooks = instar.parent / "instar-testhooks"
    if not testhooks.exists():
        sys.exit(f"{testhooks} is missing: build with -DINSTAR_TEST_HOOKS=ON (the default)")
    hyperfine = shutil.which("hyperfine")
    cmd = [str(testhooks), "copy", str(empty_in), str(work / "empty.out")]
    if hyperfine:
        export = work / "launch.json"
        subprocess.run([hyperfine, "-N", "--warmup", "10", "--runs", str(runs), "--export-json", str(export),
                        " ".join(cmd)], env=env, check=True, stdout=subprocess.DEVNULL)
        import json
        result = json.loads(export.read_text())["results"][0]
        median = result["median"]
    else:
        median = statistics.median(wall(cmd, env) for _ in range(runs))
    print(f"launch cost (empty guest op, whole process): median {median * 1000:.2f} ms over {runs} runs")


def copy_vs_convert(instar, qemu_img, work, runs):
    src = work / "random-1g.raw"
    with open(src, "wb") as f:
        for _ in range(1024):
            f.write(os.urandom(1 << 20))
    out_a, out_b = work / "copy.out", work / "convert.out"

    def clean():
        for p in (out_a, out_b):
            if p.exists():
                p.unlink()

    interleaved("copy 1 GiB random vs qemu-img convert -f raw -O raw",
                [str(instar), "copy", str(src), str(out_a)],
                [qemu_img, "convert", "-f", "raw", "-O", "raw", str(src), str(out_b)], runs, before=clean)
    src.unlink()
    clean()


def create_vs_create(instar, qemu_img, work, runs, fmt):
    a, b = work / f"ours.{fmt}", work / f"theirs.{fmt}"
    interleaved(f"create -f {fmt} 1G",
                [str(instar), "create", "-q", "-f", fmt, str(a), "1G"],
                [qemu_img, "create", "-q", "-f", fmt, str(b), "1G"], runs)


def info_vs_info(instar, qemu_img, work, runs):
    image = work / "data.qcow2"
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", str(image), "1G"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 256M", "-c", "write -P 0x11 700M 64M",
                    str(image)], check=True, stdout=subprocess.DEVNULL)
    interleaved("info of a 1 GiB qcow2 with data",
                [str(instar), "info", str(image)], [qemu_img, "info", str(image)], runs)


def mixed_file(path, mib, seed):
    """Half noise, half text, in 64 KiB pieces: what compresses, and what
    does not, as disk images hold both."""
    import random
    r = random.Random(seed)
    piece = 64 << 10
    with open(path, "wb") as f:
        for i in range(mib * 16):
            if i % 2:
                f.write(r.randbytes(piece))
            else:
                line = b"line %d of a file on a disk image\n" % r.randrange(10 ** 6)
                f.write((line * (piece // len(line) + 1))[:piece])


def convert_sources(qemu_img, work):
    """The sources of the issue's table, made once with qemu-img."""
    q = lambda *a: subprocess.run([qemu_img, *map(str, a)], check=True, stdout=subprocess.DEVNULL)
    io = lambda img, *cmds: subprocess.run(["qemu-io", "-f", "qcow2", *sum((["-c", c] for c in cmds), []), str(img)],
                                           check=True, stdout=subprocess.DEVNULL)
    data = work / "data-512m.raw"
    mixed_file(data, 512, 1)
    raw = work / "raw-1g.raw"
    with open(raw, "wb") as f:
        f.truncate(1 << 30)
    with open(data, "rb") as src, open(raw, "r+b") as dst:
        for k in range(8):  # 64 MiB of data every 128 MiB
            dst.seek(k * (128 << 20))
            dst.write(src.read(64 << 20))
    qcow2 = work / "data-1g.qcow2"
    q("convert", "-f", "raw", "-O", "qcow2", raw, qcow2)
    io(qcow2, "write -z 64M 32M", "write -z 600M 16M")
    small = work / "data-128m.raw"
    with open(data, "rb") as src, open(small, "wb") as dst:
        dst.write(src.read(128 << 20))
    zlib = work / "zlib.qcow2"
    q("convert", "-c", "-f", "raw", "-O", "qcow2", data, zlib)
    stream = work / "stream.vmdk"
    q("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", data, stream)
    empty = work / "empty-1t.qcow2"
    q("create", "-f", "qcow2", empty, "1T")
    data.unlink()
    return {"qcow2": qcow2, "raw": raw, "small": small, "zlib": zlib, "stream": stream, "empty": empty}


def convert_vs_convert(instar, qemu_img, work, runs, name, args, src):
    out_a, out_b = work / "ours.out", work / "theirs.out"

    def clean():
        for p in (out_a, out_b):
            if p.exists():
                p.unlink()

    interleaved(f"convert {name}", [str(instar), "convert", *args, str(src), str(out_a)],
                [qemu_img, "convert", *args, str(src), str(out_b)], runs, before=clean)
    clean()


CONVERTS = [
    ("qcow2-to-raw", "qcow2 1 GiB, 512 MiB data and zero clusters -> raw", ["-O", "raw"], "qcow2"),
    ("raw-to-qcow2", "raw 1 GiB, 512 MiB data -> qcow2", ["-f", "raw", "-O", "qcow2"], "raw"),
    ("zlib-to-raw", "qcow2, 512 MiB in zlib clusters -> raw", ["-O", "raw"], "zlib"),
    ("raw-to-qcow2-c", "raw 128 MiB -> qcow2 -c", ["-f", "raw", "-c", "-O", "qcow2"], "small"),
    ("stream-to-qcow2", "vmdk streamOptimized, 512 MiB -> qcow2", ["-O", "qcow2"], "stream"),
    ("empty-1t", "empty 1 TiB qcow2 -> qcow2", ["-O", "qcow2"], "empty"),
    # The other writers (not in the table).
    ("raw-to-vpc", "raw 1 GiB, 512 MiB data -> vpc", ["-f", "raw", "-O", "vpc"], "raw"),
    ("raw-to-vhdx", "raw 1 GiB, 512 MiB data -> vhdx", ["-f", "raw", "-O", "vhdx"], "raw"),
    ("raw-to-vmdk", "raw 1 GiB, 512 MiB data -> vmdk", ["-f", "raw", "-O", "vmdk"], "raw"),
    ("raw-to-vmdk-stream", "raw 128 MiB -> vmdk streamOptimized",
     ["-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized"], "small"),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--instar", default="build/instar")
    p.add_argument("--runs", type=int, default=21)
    p.add_argument("--only", default="", help="comma-separated benchmark names")
    args = p.parse_args()
    instar = Path(args.instar).resolve()
    guests_dir = instar.parent / "test_guests"
    qemu_img = shutil.which("qemu-img") or sys.exit("qemu-img is missing")
    only = set(filter(None, args.only.split(",")))

    # Without a usable /dev/kvm, the process sandbox, said out loud: its
    # figures describe that sandbox, not the VM.
    if "INSTAR_SANDBOX" not in os.environ and not os.access("/dev/kvm", os.R_OK | os.W_OK):
        os.environ["INSTAR_SANDBOX"] = "process"
    print(f"sandbox: {os.environ.get('INSTAR_SANDBOX', 'kvm')}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {os.cpu_count()} CPUs, {subprocess.run(['uname', '-r'], capture_output=True, text=True).stdout.strip()}")
    print(f"qemu-img: {subprocess.run([qemu_img, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("INSTAR_BENCH_DIR", "/var/tmp")) as d:
        work = Path(d)
        benches = {
            "launch": lambda: launch_cost(instar, guests_dir, work, max(args.runs, 50)),
            "copy": lambda: copy_vs_convert(instar, qemu_img, work, min(args.runs, 7)),
            "create-qcow2": lambda: create_vs_create(instar, qemu_img, work, args.runs, "qcow2"),
            "create-vhdx": lambda: create_vs_create(instar, qemu_img, work, args.runs, "vhdx"),
            "info": lambda: info_vs_info(instar, qemu_img, work, args.runs),
        }
        sources = {}

        def convert(name, label, cargs, source):
            if not sources:
                sources.update(convert_sources(qemu_img, work))
            convert_vs_convert(instar, qemu_img, work, min(args.runs, 5), label, cargs, sources[source])

        for name, label, cargs, source in CONVERTS:
            benches["convert-" + name] = (lambda n=name, l=label, c=cargs, s=source: convert(n, l, c, s))
        for name, fn in benches.items():
            if not only or name in only:
                fn()


if __name__ == "__main__":
    main()
