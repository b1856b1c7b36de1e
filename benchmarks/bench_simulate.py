"""Benchmark: simulated history throughput (days of data per minute of wall time).

Runs ``simulate_history`` (one 10-min record per hour, acc 8 ch at 100 Hz,
strain 4 ch at 20 Hz, env 2 ch at 1 Hz, written to raw HDF5) with 1 and 2
worker processes, plus the generation alone (no HDF5) for one record, and
prints medians side by side.

    .venv/bin/python benchmarks/bench_simulate.py [--days 2] [--repeat 3]

The goal of the issue: 30 days in under 3 minutes on a 2-core machine,
i.e. at least 10 days per minute.
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


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (user + system)."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _history(days: float, workers: int, root: Path) -> tuple[float, float, int]:
    from bshm.fixtures.history import simulate_history

    from bshm.timeutil import parse_time

    out = root / f"w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    t, c = time.perf_counter(), _cpu_s()
    s = simulate_history(out, days, start_ns=parse_time("2026-01-01"), workers=workers,
                         seed=1, write_station=False)
    wall, cpu = time.perf_counter() - t, _cpu_s() - c
    shutil.rmtree(out, ignore_errors=True)
    return wall, cpu, s["bytes"]


def _one_record(repeat: int) -> tuple[float, float]:
    import numpy as np
    from bshm.fixtures.bridge import BridgeModel

    model = BridgeModel()
    model.simulate(600.0, 100.0, temperature_c=5.0, rng=np.random.default_rng(0))
    times, cpus = [], []
    for k in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        model.simulate(600.0, 100.0, temperature_c=5.0 + 0.1 * k, traffic=900.0,
                       rng=np.random.default_rng(k))
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(times), statistics.median(cpus)


def main() -> None:
    """Run the benchmark and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc "
          f"{os.cpu_count()}, CPU {_cpu()}, load {os.getloadavg()[0]:.1f}")
    rec, rec_cpu = _one_record(max(3, args.repeat))
    print(f"one 10-min record (8 acc + 4 strain at 100 Hz, 900 veh/h), generation "
          f"only: median {rec * 1e3:.0f} ms wall, {rec_cpu * 1e3:.0f} ms CPU "
          f"({600 / rec:.0f}x real time)")
    root = Path(tempfile.mkdtemp(prefix="bench_sim_"))
    rows = []
    try:
        for workers in (1, 2):
            walls, cpus = [], []
            size = 0
            for _ in range(args.repeat):
                wall, cpu, size = _history(args.days, workers, root)
                walls.append(wall)
                cpus.append(cpu)
            rows.append((workers, statistics.median(walls), statistics.median(cpus), size))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nhistory of {args.days:g} days ({int(args.days * 24)} records), "
          f"median of {args.repeat}:")
    print(f"{'workers':>8} {'wall s':>8} {'CPU s':>7} {'days/min':>9} {'30 d est. s':>12} "
          f"{'CPU s/day':>10} {'MB/day':>7} {'vs 1 worker':>12}")
    base = rows[0][1]
    for workers, wall, cpu, size in rows:
        print(f"{workers:>8} {wall:>8.1f} {cpu:>7.1f} {args.days / wall * 60:>9.1f} "
              f"{wall / args.days * 30:>12.0f} {cpu / args.days:>10.2f} "
              f"{size / 1e6 / args.days:>7.1f} {base / wall:>11.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
