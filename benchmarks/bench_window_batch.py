"""One analysis worker's cost per window: ``run_batch`` on batches of 16 hourly windows.

Needs a folder of hourly raw files with its ``station.toml``, e.g. a short
history from ``benchmarks/bench_analyze_year.py --out DIR --hours 48
--generate-only`` (or symbolic links to some hours of a generated year
plus its ``station.toml``).  The windows are the first 10 minutes of each
hourly file, from the first file's name (``<name>_YYYYmmddTHHMMSSZ.h5``).

Modes:

* ``time`` (default): CPU and wall time per window of ``run_batch`` in this
  process (one BLAS thread inside, as in the workers), medians over the
  batches of ``--reps`` passes, after one warm-up batch;
* ``profile``: cProfile of one pass, sorted by cumulative and by own time;
* ``dask``: the job's executor, ``DaskExecutor(workers=2)``: windows per
  second and the workers' CPU per window (``time.process_time`` in each
  worker before and after), after two warm-up batches;
* ``dump FILE``: pickle every ``WindowResult`` (to compare two versions of
  the code field by field: they must be identical).

Usage::

    .venv/bin/python benchmarks/bench_window_batch.py DIR [time|profile|dask|dump FILE] [--reps 2]
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import pstats
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

HOUR_NS = 3_600_000_000_000


def setup(d: Path):
    from bshm.analysis.job_config import resolve_settings
    from bshm.analysis.windows import plan_batch_files

    cfg = resolve_settings(d).window
    names = sorted(p.name for p in d.glob("*.h5"))
    stamp = names[0].rsplit("_", 1)[1][:15]
    start = int(datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp())
    start *= 10**9
    w = int(round(cfg.window_s * 1e9))
    wins = [(start + i * HOUR_NS, start + i * HOUR_NS + w) for i in range(len(names))]
    batches = [wins[i : i + 16] for i in range(0, len(wins), 16)]
    return cfg, batches, plan_batch_files(d, batches)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("mode", nargs="?", default="time", choices=["time", "profile", "dask", "dump"])
    ap.add_argument("file", nargs="?", type=Path, help="output of the dump mode")
    ap.add_argument("--reps", type=int, default=2)
    a = ap.parse_args()
    from bshm.analysis.job_exec import run_batch

    cfg, batches, plans = setup(a.folder)
    n = sum(len(b) for b in batches)
    if a.mode == "dask":
        from bshm.analysis.job_exec import DaskExecutor

        ex = DaskExecutor(workers=2)
        try:
            list(ex.map(cfg, batches[:2], plans[:2]))  # warm-up: imports, Numba cache
            c0 = ex.client.run(time.process_time)
            t0 = time.perf_counter()
            got = sum(len(r) for r in ex.map(cfg, batches[2:], plans[2:]))
            wall = time.perf_counter() - t0
            c1 = ex.client.run(time.process_time)
        finally:
            ex.close()
        cpu = sum(c1[k] - c0[k] for k in c0)
        print(
            f"dask, 2 workers: {got} windows in {wall:.1f} s = {got / wall:.1f} windows/s; "
            f"workers' CPU {cpu / got * 1e3:.1f} ms per window"
        )
        return
    run_batch(cfg, batches[0], plans[0])  # warm-up
    if a.mode == "profile":
        pr = cProfile.Profile()
        pr.enable()
        for b, p in zip(batches, plans, strict=True):
            run_batch(cfg, b, p)
        pr.disable()
        print(f"{n} windows")
        st = pstats.Stats(pr)
        st.sort_stats("cumulative").print_stats(45)
        st.sort_stats("tottime").print_stats(30)
    elif a.mode == "dump":
        out = [r for b, p in zip(batches, plans, strict=True) for r in run_batch(cfg, b, p)]
        a.file.write_bytes(pickle.dumps(out))
        print(f"{len(out)} results written to {a.file}")
    else:
        cpu, wall = [], []
        for _ in range(a.reps):
            for b, p in zip(batches, plans, strict=True):
                t0, w0 = time.process_time(), time.perf_counter()
                run_batch(cfg, b, p)
                cpu.append((time.process_time() - t0) / len(b))
                wall.append((time.perf_counter() - w0) / len(b))
        print(
            f"per window: CPU {statistics.median(cpu) * 1e3:.1f} ms, wall "
            f"{statistics.median(wall) * 1e3:.1f} ms (medians over {len(cpu)} batches)"
        )


if __name__ == "__main__":
    main()
