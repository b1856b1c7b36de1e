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

``--health off|on|both``: without (default) or with the channel health of
each record checked in the worker for the strain part (``health_ranges``, as
``bshm analyze`` does since the hand-over); ``both`` (``time`` mode)
alternates the two on every batch, in alternating order, and reports both
medians and the difference per window.

Usage::

    .venv/bin/python benchmarks/bench_window_batch.py DIR [time|profile|dask|dump FILE] [--reps 2]
        [--health off|on|both]
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


def health_ranges(d: Path) -> dict:
    """The plausible ranges the job hands the workers (those of the strain part)."""
    from bshm.analysis.job_config import resolve_settings
    from bshm.analysis.strain_job import _ranges

    from bshm.store import open_raw

    st = resolve_settings(d)
    with open_raw(d, use_cache=False) as reader:
        return _ranges(reader, st.station_cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("mode", nargs="?", default="time", choices=["time", "profile", "dask", "dump"])
    ap.add_argument("file", nargs="?", type=Path, help="output of the dump mode")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--health", choices=["off", "on", "both"], default="off")
    a = ap.parse_args()
    from bshm.analysis.job_exec import run_batch as _run

    cfg, batches, plans = setup(a.folder)
    ranges = health_ranges(a.folder) if a.health != "off" else None

    def run_batch(cfg, b, p, health=ranges if a.health == "on" else None):
        return _run(cfg, b, p, health)
    n = sum(len(b) for b in batches)
    if a.mode == "dask":
        from bshm.analysis.job_exec import DaskExecutor

        ex = DaskExecutor(workers=2)
        try:
            h = ranges if a.health == "on" else None
            list(ex.map(cfg, batches[:2], plans[:2], h))  # warm-up: imports, Numba cache
            c0 = ex.client.run(time.process_time)
            t0 = time.perf_counter()
            got = sum(len(r) for r in ex.map(cfg, batches[2:], plans[2:], h))
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
    if a.health == "both":
        run_batch(cfg, batches[0], plans[0], ranges)
        per: dict[bool, list[float]] = {False: [], True: []}
        k = 0
        for _ in range(a.reps):
            for b, p in zip(batches, plans, strict=True):
                for with_h in (False, True) if k % 2 == 0 else (True, False):
                    t0 = time.process_time()
                    run_batch(cfg, b, p, ranges if with_h else None)
                    per[with_h].append((time.process_time() - t0) / len(b))
                k += 1
        m0, m1 = statistics.median(per[False]), statistics.median(per[True])
        diffs = [y - x for x, y in zip(per[False], per[True], strict=True)]
        print(
            f"per window: CPU without health {m0 * 1e3:.1f} ms, with health {m1 * 1e3:.1f} ms "
            f"(median of the per-batch differences {statistics.median(diffs) * 1e3:+.1f} ms; "
            f"{len(diffs)} batches each, alternated)"
        )
        return
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
