"""Raw store speed: RawWriter/RawReader side by side with plain h5py.

Run::

    .venv/bin/python benchmarks/bench_store.py [--repeats 5] [--big-folder 720]

Write: the same float32 blocks go through ``RawWriter`` (SWMR, block
index, time checks, rollover, buffered flushes) and through plain h5py
(``resize`` + slice assignment per block into the same kind of chunked
dataset with the same filter: byte shuffle + LZF, same chunk shape).
Target: RawWriter costs at most 1.5x plain h5py.

Read: a time range spanning 3 hourly files through ``open_raw(...).read``
(times computed for every sample, channels by name) vs plain h5py
slicing the same rows out of the same files (no times).

``--big-folder N`` also builds N hourly files (10 min of 8 ch at 100 Hz
each) and times opening the folder (cold, then with the summary cache) and
reading 10-minute windows.

Prints medians of ``--repeats`` runs and the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from bshm.store import ChannelMeta, RawWriter, SourceSpec, open_raw
from bshm.store.fileindex import cache_path
from bshm.timeutil import parse_time

T0 = parse_time("2026-01-01T00:00:00Z")
S = 10**9


def _spec(nch: int, fs: float, name: str = "acc") -> SourceSpec:
    return SourceSpec(name, "simulated", fs,
                      tuple(ChannelMeta(f"C{i:02d}", "acceleration", "m/s2") for i in range(nch)))


def _blocks(nch: int, rows: int, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.standard_normal((rows * 8, nch)), axis=0).astype(np.float32) * 1e-3
    return [base[(i % 8) * rows:(i % 8 + 1) * rows] + np.float32(i) for i in range(count)]


def write_raw(d: Path, blocks: list[np.ndarray], fs: float, compression: str | None = "lzf",
              flush_interval_s: float = 1.0) -> float:
    spec = _spec(blocks[0].shape[1], fs)
    n = blocks[0].shape[0]
    tic = time.perf_counter()
    with RawWriter(d, "bench", [spec], compression=compression,
                   flush_interval_s=flush_interval_s) as w:
        for i, b in enumerate(blocks):
            w.write("acc", b, t0_ns=T0 + int(i * n * S / fs))
    return time.perf_counter() - tic


def write_plain(path: Path, blocks: list[np.ndarray], compression: str | None = "lzf",
                flush_every: bool = False, swmr: bool = False) -> float:
    nch = blocks[0].shape[1]
    rows = max(64, min(16384, 65536 // (4 * nch)))  # the same chunk shape as RawWriter
    comp = {}
    if compression == "lzf":
        comp = {"compression": "lzf", "shuffle": True}
    elif compression == "gzip":
        comp = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    tic = time.perf_counter()
    with h5py.File(path, "w", libver="latest") as f:
        d = f.create_dataset("data", shape=(0, nch), maxshape=(None, nch), dtype=np.float32,
                             chunks=(rows, nch), **comp)
        if swmr:
            f.swmr_mode = True
        n = 0
        for b in blocks:
            d.resize(n + b.shape[0], axis=0)
            d[n:] = b
            n += b.shape[0]
            if flush_every:
                f.flush()
    return time.perf_counter() - tic


def _median(fn, repeats: int) -> tuple[float, float]:
    """Median wall time (what ``fn`` returns) and median CPU time of ``fn``."""
    wall, cpu = [], []
    for _ in range(repeats):
        c = time.process_time()
        wall.append(fn())
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


Row = tuple[str, float, tuple[float, float], tuple[float, float]]


def bench_write(root: Path, repeats: int) -> list[Row]:
    cases = [
        ("16 ch x 1 kHz, 1-s blocks, lzf", 16, 1000.0, 1000, 300, "lzf"),
        ("16 ch x 1 kHz, 1-s blocks, gzip", 16, 1000.0, 1000, 100, "gzip"),
        ("8 ch x 100 Hz, 0.1-s blocks, lzf", 8, 100.0, 10, 6000, "lzf"),
    ]
    out = []
    for label, nch, fs, rows, count, comp in cases:
        blocks = _blocks(nch, rows, count)
        mb = sum(b.nbytes for b in blocks) / 1e6
        k = [0]

        def raw(interval: float = 1.0, k=k, blocks=blocks, fs=fs, comp=comp) -> float:
            k[0] += 1
            d = root / f"w{k[0]}"
            t = write_raw(d, blocks, fs, comp, interval)
            shutil.rmtree(d)
            return t

        def plain(flush: bool = False, swmr: bool = False, k=k, blocks=blocks,
                  comp=comp) -> float:
            k[0] += 1
            p = root / f"p{k[0]}.h5"
            t = write_plain(p, blocks, comp, flush, swmr)
            p.unlink()
            return t

        t_raw = _median(raw, repeats)
        t_plain = _median(plain, repeats)
        out.append((label + ": RawWriter (flush 1 s) vs h5py", mb, t_raw, t_plain))
        if rows >= 1000:
            t_raw0 = _median(lambda: raw(0.0), repeats)
            t_plain0 = _median(lambda: plain(True), repeats)
            t_swmr0 = _median(lambda: plain(True, True), repeats)
            out.append((label + ": flush every block, h5py no SWMR", mb, t_raw0, t_plain0))
            out.append((label + ": flush every block, h5py SWMR", mb, t_raw0, t_swmr0))
    return out


def bench_read(root: Path, repeats: int) -> list[Row]:
    """Each repeat opens the files afresh (HDF5's chunk cache starts empty)."""
    d = root / "read3"
    fs = 100.0
    blocks = _blocks(8, 6000, 180)  # 3 h of 1-min blocks
    write_raw(d, blocks, fs)
    open_raw(d).close()  # builds the folder's summary cache, as any first use does
    files = sorted(d.glob("*.h5"))
    assert len(files) == 3, files
    out = []
    for label, a_s, b_s in [("2 h spanning 3 files", 1800, 9000),
                            ("10 min across a file boundary", 3300, 3900)]:
        a, b = T0 + a_s * S, T0 + b_s * S
        ranges = []  # plain h5py: the same rows, positions known in advance
        for i, p in enumerate(files):
            lo, hi = max(a_s - i * 3600, 0) * 100, min(b_s - i * 3600, 3600) * 100
            if hi > lo:
                ranges.append((p, lo, hi))

        def raw(a=a, b=b):
            with open_raw(d) as r:
                return r.read("acc", a, b)

        def plain(ranges=ranges):
            parts = []
            for p, lo, hi in ranges:
                with h5py.File(p, "r", swmr=True) as h:
                    parts.append(h["sources/acc/data"][lo:hi])
            return np.concatenate(parts)

        rec, ref = raw(), plain()
        assert np.array_equal(rec.data, ref)
        t_raw = _median(lambda raw=raw: _timed(raw), repeats)
        t_plain = _median(lambda plain=plain: _timed(plain), repeats)
        out.append((f"read {label} (8 ch x 100 Hz, open+read+close): bshm vs h5py",
                    rec.data.nbytes / 1e6, t_raw, t_plain))
    return out


def _timed(fn) -> float:
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def bench_big_folder(root: Path, n_files: int, repeats: int) -> list[str]:
    d = root / "big"
    spec = _spec(8, 100.0)
    rng = np.random.default_rng(1)
    base = np.cumsum(rng.standard_normal((60000, 8)), axis=0).astype(np.float32) * 1e-3
    tic = time.perf_counter()
    with RawWriter(d, "bench", [spec]) as w:
        for h in range(n_files):
            for m in range(10):
                w.write("acc", base[m * 6000:(m + 1) * 6000], t0_ns=T0 + h * 3600 * S + m * 60 * S)
    t_build = time.perf_counter() - tic
    lines = [f"built {n_files} files (10 min of 8 ch x 100 Hz each) in {t_build:.1f} s"]
    tic = time.perf_counter()
    r = open_raw(d)
    lines.append(f"open_raw(folder), first time, summaries indexed by the writer: "
                 f"{time.perf_counter() - tic:.2f} s")
    r.close()
    cache_path(d).unlink()
    tic = time.perf_counter()
    r = open_raw(d)
    lines.append(f"open_raw(folder), no cache (summarise every file, write the cache): "
                 f"{time.perf_counter() - tic:.2f} s")
    r.close()
    opens = []
    for _ in range(repeats):
        tic = time.perf_counter()
        r = open_raw(d)
        opens.append(time.perf_counter() - tic)
        r.close()
    lines.append(f"open_raw(folder), cached: median {statistics.median(opens) * 1e3:.0f} ms")
    r = open_raw(d)
    rng = np.random.default_rng(2)
    reads = []
    for _ in range(max(repeats, 10)):
        h = int(rng.integers(0, n_files))
        a = T0 + h * 3600 * S + int(rng.integers(0, 60)) * S
        reads.append(_timed(lambda a=a: r.read("acc", a, a + 600 * S)))
    lines.append(f"read a 10-min window (random file, files opened lazily): median "
                 f"{statistics.median(reads) * 1e3:.1f} ms")
    r.close()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--big-folder", type=int, default=0, metavar="N",
                    help="also build N hourly files and time open/read (0: skip)")
    ap.add_argument("--tmp", default=None, help="scratch folder (default: system temp)")
    args = ap.parse_args()
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    print(f"# bench_store  {time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  {cpu}")
    print(f"# h5py {h5py.version.version}, HDF5 {h5py.version.hdf5_version}, "
          f"numpy {np.__version__}, repeats={args.repeats}")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        root = Path(tmp)
        os.environ["BSHM_CACHE_DIR"] = str(root / "cache")  # keep ~/.cache clean
        print(f"\n{'case':<78} {'MB':>6} {'bshm s':>7} {'h5py s':>7} {'bshm MB/s':>9} "
              f"{'h5py MB/s':>9} {'ratio':>6} {'cpu ratio':>9}")
        for label, mb, (a, ca), (b, cb) in bench_write(root, args.repeats) + bench_read(
                root, args.repeats):
            print(f"{label:<78} {mb:6.1f} {a:7.3f} {b:7.3f} {mb / a:9.0f} {mb / b:9.0f} "
                  f"{a / b:6.2f} {ca / max(cb, 1e-9):9.2f}")
        if args.big_folder:
            print()
            for line in bench_big_folder(root, args.big_folder, args.repeats):
                print(line)


if __name__ == "__main__":
    main()
