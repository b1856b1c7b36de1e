"""What the storage safety measures cost: Fletcher32, verify, damaged-file opens.

Run::

    .venv/bin/python benchmarks/bench_checksums.py [--repeats 5] [--seconds 600]

1. Write: RawWriter (which puts a Fletcher32 checksum on every chunk) vs
   the same RawWriter with the checksum filter switched off (the
   ``bshm.store.livefile._filters`` of before), 16 ch x 1 kHz in 1-s
   blocks, LZF and gzip. Target: checksums cost at most 10 % of the write.
2. Read: ``open_raw(...).read()`` of the whole file, with and without
   checksums (the chunk cache starts empty each time).
3. ``bshm inspect --verify`` speed (MB/s of stored data) on the same files.
4. Opening a file whose metadata has one flipped bit: plain (finished
   ``.h5``), bshm's bounded SWMR open (live ``.part``), and HDF5's default
   SWMR open (killed after ``--swmr-limit`` seconds).

Prints medians of ``--repeats`` runs (CPU ratios are steadier than wall
time on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

import bshm.store.livefile as lf
from bshm.store import ChannelMeta, RawWriter, SourceSpec, open_raw
from bshm.store.verify import verify
from bshm.timeutil import parse_time

T0 = parse_time("2026-01-01T00:00:00Z")


def _spec(nch: int, fs: float) -> SourceSpec:
    return SourceSpec("acc", "simulated", fs,
                      tuple(ChannelMeta(f"C{i:02d}", "acceleration", "m/s2") for i in range(nch)))


def _blocks(nch: int, fs: int, seconds: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    base = np.cumsum(rng.standard_normal((fs * 8, nch)), axis=0).astype(np.float32) * 1e-3
    return [base[(i % 8) * fs:(i % 8 + 1) * fs] + np.float32(i) for i in range(seconds)]


def _write(d: Path, blocks, fs: int, compression: str, checksums: bool) -> tuple[float, float]:
    orig = lf._filters

    def no_checksum(c):
        f = orig(c)
        f.pop("fletcher32", None)
        return f

    if not checksums:
        lf._filters = no_checksum
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        with RawWriter(d, "bench", [_spec(blocks[0].shape[1], fs)], compression=compression) as w:
            for i, b in enumerate(blocks):
                w.write("acc", b, t0_ns=T0 + i * 10**9)
        return time.perf_counter() - w0, time.process_time() - c0
    finally:
        lf._filters = orig


def _read(d: Path) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    with open_raw(d, use_cache=False) as r:
        r.read("acc")
    return time.perf_counter() - w0, time.process_time() - c0


def _verify(d: Path) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    rep = verify(d)
    assert rep["ok"], rep["damaged"]
    return time.perf_counter() - w0, time.process_time() - c0


def _median(xs):
    return statistics.median(xs)


def bench_write_read(tmp: Path, repeats: int, seconds: int) -> None:
    fs, nch = 1000, 16
    blocks = _blocks(nch, fs, seconds)
    mb = sum(b.nbytes for b in blocks) / 1e6
    print(f"\n16 ch x 1 kHz, {seconds} 1-s blocks ({mb:.0f} MB of float32), median of {repeats}")
    print("| case | with checksums s (CPU s) | without s (CPU s) | ratio wall | ratio CPU |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for comp in ("lzf", "gzip"):
        res = {True: [], False: []}
        rd = {True: [], False: []}
        vf = []
        for k in range(repeats):
            for ck in (True, False) if k % 2 == 0 else (False, True):
                d = tmp / f"w-{comp}-{ck}-{k}"
                res[ck].append(_write(d, blocks, fs, comp, ck))
                rd[ck].append(_read(d))
                if ck:
                    vf.append(_verify(d))
                shutil.rmtree(d)
        for name, tab in (("write", res), ("read (open_raw + read all)", rd)):
            w1, c1 = _median([x[0] for x in tab[True]]), _median([x[1] for x in tab[True]])
            w0, c0 = _median([x[0] for x in tab[False]]), _median([x[1] for x in tab[False]])
            print(f"| {name}, {comp} | {w1:.3f} ({c1:.3f}) | {w0:.3f} ({c0:.3f}) | "
                  f"{w1 / w0:.2f} | {c1 / c0:.2f} |")
        vw, vc = _median([x[0] for x in vf]), _median([x[1] for x in vf])
        print(f"| verify, {comp} | {vw:.3f} ({vc:.3f}) | | {mb / vw:.0f} MB/s of samples | |")


def bench_damaged_open(tmp: Path, swmr_limit: float) -> None:
    d = tmp / "dmg"
    _write(d, _blocks(3, 100, 200), 100, "lzf", True)
    [p] = d.glob("*.h5")
    with h5py.File(p, "r") as f:
        off = h5py.h5o.get_info(f["sources/acc"].id).addr + 12
    with open(p, "r+b") as fh:
        fh.seek(off)
        b = fh.read(1)
        fh.seek(off)
        fh.write(bytes([b[0] ^ 0x10]))
    timed = ("import sys, time, h5py; from pathlib import Path;"
             " from bshm.store.h5io import _open_swmr; p = Path(sys.argv[1]); t = time.perf_counter()\n"
             "try:\n    f = {open}; f['sources/acc']\nexcept Exception:\n"
             "    print(f'{{(time.perf_counter() - t) * 1e3:.1f}} ms')")
    probes = {
        "plain h5py.File(p, 'r') (bshm, finished .h5)": "h5py.File(p, 'r')",
        "bshm bounded SWMR open (live .part)": "_open_swmr(p)",
        "h5py.File(p, 'r', swmr=True) (HDF5 default retries)": "h5py.File(p, 'r', swmr=True)",
    }
    print("\nopening a file with one flipped metadata bit (in a child process)")
    print("| open | time to the error |")
    print("| --- | ---: |")
    for name, how in probes.items():
        try:
            r = subprocess.run([sys.executable, "-c", timed.format(open=how), str(p)],
                               capture_output=True, text=True, timeout=swmr_limit)
            took = r.stdout.strip() or f"no error? ({r.stderr.strip()[-200:]})"
        except subprocess.TimeoutExpired:
            took = f"> {swmr_limit:g} s (killed)"
        print(f"| {name} | {took} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--swmr-limit", type=float, default=120.0)
    ap.add_argument("--tmp", default=None)
    a = ap.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, "
          f"python {platform.python_version()}, h5py {h5py.__version__}, HDF5 "
          f"{h5py.version.hdf5_version}, load {os.getloadavg()[0]:.1f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    os.environ.setdefault("BSHM_CACHE_DIR", tempfile.mkdtemp(prefix="bshm-bench-cache-"))
    with tempfile.TemporaryDirectory(dir=a.tmp) as tmp:
        bench_write_read(Path(tmp), a.repeats, a.seconds)
        bench_damaged_open(Path(tmp), a.swmr_limit)


if __name__ == "__main__":
    main()
