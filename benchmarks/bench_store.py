r"""Raw store speed: RawWriter/RawReader side by side with plain h5py.

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

``--batch DIR`` instead measures an analysis worker's pattern on a folder
of hourly files (e.g. ``benchmarks/bench_analyze_year.py --out DIR --hours
48 --keep --generate-only``): batches of 16 hourly windows, each batch
opening its 16 files, each window read once for its 12 channels and once
per temperature channel (``analysis.windows.process_batch``). Variants,
alternated batch by batch in one process, CPU per window (medians):

* ``links``: a temporary folder of symbolic links to the batch's files,
  ``open_raw(tmp, use_cache=False)`` (what ``process_batch`` does);
* ``files=``: ``open_raw(folder, files=batch_files, use_cache=False)``;
* ``... h5py reads``: the same with the chunk reader off (every read
  through h5py's filter pipeline);
* ``old: links`` with ``--old-store PKGDIR``: another version of
  ``bshm/store`` as the package ``bshm_oldstore`` in PKGDIR, made with::

      mkdir -p /tmp/old/bshm_oldstore && for f in bshm/store/*.py; do
        git show main:$f | sed 's/bshm\.store/bshm_oldstore/g' \
          > /tmp/old/bshm_oldstore/$(basename $f); done

Every variant's records (data bytes, times, gaps, channels) are checked
identical to the first variant's before timing.
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


def bench_batch(folder: Path, repeats: int, old_store: str | None) -> list[str]:
    """The worker's pattern (see the module docstring); lines to print."""
    import importlib
    import sys
    from datetime import UTC, datetime

    import bshm.store.chunkread as chunkread
    from bshm.store import reader as new_reader

    names = sorted(p.name for p in folder.glob("*.h5"))
    if not names:
        raise SystemExit(f"{folder}: no *.h5 files")
    stamp = names[0].rsplit("_", 1)[1][:15]
    t0 = int(datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()) * S
    hour, win = 3600 * S, 600 * S
    wins = [(t0 + i * hour, t0 + i * hour + win) for i in range(len(names))]
    batches = [(wins[i:i + 16], [folder / n for n in names[i:i + 16]])
               for i in range(0, len(names), 16)]
    with new_reader.open_raw(folder, files=[folder / names[0]], use_cache=False) as r:
        acc = max(r.sources.values(), key=lambda i: len(i.channel_names))
        env = [(i.name, c) for i in r.sources.values() if i is not acc
               for c in i.channel_names]
    chans = list(acc.channel_names)

    def reads(r, wins, out):
        for s, e in wins:
            for src, c in env:
                out.append(r.read(src, s, e, channels=[c]))
            out.append(r.read(acc.name, s, e, channels=chans))

    def links(mod):
        def run(wins, files, out):
            with tempfile.TemporaryDirectory(prefix="bshm-batch-") as tmp:
                for p in files:
                    (Path(tmp) / p.name).symlink_to(p.resolve())
                with mod.open_raw(tmp, use_cache=False) as r:
                    reads(r, wins, out)
        return run

    def subset(wins, files, out):
        with new_reader.open_raw(folder, files=files, use_cache=False) as r:
            reads(r, wins, out)

    def subset_h5py(wins, files, out):
        keep = chunkread.MIN_BYTES
        chunkread.MIN_BYTES = 1 << 62
        try:
            subset(wins, files, out)
        finally:
            chunkread.MIN_BYTES = keep

    variants = {}
    if old_store:
        sys.path.insert(0, old_store)
        variants["old: links"] = links(importlib.import_module("bshm_oldstore.reader"))
    variants["new: links"] = links(new_reader)
    variants["new: files="] = subset
    variants["new: files=, h5py reads"] = subset_h5py

    def key(rec):
        return (rec.data.dtype.str, rec.data.shape, rec.data.tobytes(), rec.times_ns.tobytes(),
                rec.fs, [(g.start_ns, g.end_ns, g.reason) for g in rec.gaps],
                repr([vars(c) for c in rec.channels]))

    first = None
    for name, fn in variants.items():  # warm-up (imports, Numba cache) and the check
        out: list = []
        for w, f in batches:
            fn(w, f, out)
        got = [key(r) for r in out]
        if first is None:
            first = got
        elif got != first:
            raise SystemExit(f"{name}: records differ from {next(iter(variants))}")
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for w, f in batches:
            for name, fn in variants.items():
                c = time.process_time()
                fn(w, f, [])
                cpu[name].append((time.process_time() - c) / len(w) * 1e3)
    base = statistics.median(next(iter(cpu.values())))
    lines = [f"{len(wins)} windows in {len(batches)} batches; {len(env)} + 1 reads per window "
             f"({len(chans)} ch x {acc.fs:g} Hz); CPU per window, medians of "
             f"{repeats * len(batches)} batches; records identical in every variant"]
    for name, v in cpu.items():
        m = statistics.median(v)
        lines.append(f"  {name:<28} {m:6.2f} ms   ratio {m / base:5.3f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--big-folder", type=int, default=0, metavar="N",
                    help="also build N hourly files and time open/read (0: skip)")
    ap.add_argument("--tmp", default=None, help="scratch folder (default: system temp)")
    ap.add_argument("--batch", type=Path, default=None, metavar="DIR",
                    help="only the analysis worker's pattern on a folder of hourly files")
    ap.add_argument("--old-store", default=None, metavar="PKGDIR",
                    help="with --batch: also time the package bshm_oldstore found in PKGDIR")
    args = ap.parse_args()
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    print(f"# bench_store  {time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  {cpu}")
    print(f"# h5py {h5py.version.version}, HDF5 {h5py.version.hdf5_version}, "
          f"numpy {np.__version__}, repeats={args.repeats}")
    if args.batch is not None:
        print(f"# load average {os.getloadavg()[0]:.2f}, UTC {time.strftime('%H:%M', time.gmtime())}")
        for line in bench_batch(args.batch, args.repeats, args.old_store):
            print(line)
        return
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
