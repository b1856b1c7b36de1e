"""Benchmark of ``bshm analyze``: windows per minute, local executor vs Dask ``--workers 2``.

Target workload (issue 6): a year of hourly 10-minute records, 12 channels
at 100 Hz. A year is 8,760 windows; this script times a shorter history of
the same records (default one day: 24 windows) and extrapolates linearly,
which holds because the work per window does not depend on the history
length (each batch opens only its own raw files; the derived step is
timed separately and is a small fraction).

The records: the simulated bridge's 8 accelerations plus 4 more channels
(neighbour averages with independent noise), T1/T2 temperatures, written
with the real raw-store writer. Analysis settings as the sample station:
decimation to 50 Hz, 0.5-15 Hz, SSI-COV time lag 40, orders to 80.

Usage::

    .venv/bin/python benchmarks/bench_analyze.py [--records 24] [--repeat 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

START_NS = 1_767_225_600_000_000_000
HOUR_NS = 3_600_000_000_000


def write_records(out: Path, n: int, fs: float = 100.0, record_s: float = 600.0) -> None:
    from bshm.fixtures.bridge import BridgeModel

    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    model = BridgeModel(seed=5)
    xs = list(model.sensor_x) + [9.5, 28.0, 42.0, 60.5]
    acc = tuple(
        ChannelMeta(f"A{i + 1:02d}", "acceleration", "m/s2", (float(x), 0.0, 0.0), "z")
        for i, x in enumerate(xs)
    )
    env = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    specs = [SourceSpec("acc", "simulated", fs, acc), SourceSpec("env", "simulated", 1.0, env)]
    rng = np.random.default_rng(1)
    with RawWriter(out, "bench", specs, rollover_s=3600.0, flush_interval_s=60.0) as w:
        for k in range(n):
            t0 = START_NS + k * HOUR_NS
            temp = 5.0 + 5.0 * np.sin(2 * np.pi * k / 24)
            rec = model.simulate(record_s, fs, temperature_c=temp, traffic=False, rng=rng)
            a = rec.acc
            extra = 0.5 * (a[:, [0, 2, 4, 6]] + a[:, [1, 3, 5, 7]])
            extra += 2e-4 * rng.standard_normal(extra.shape)
            w.write("acc", np.hstack([a, extra]), t0_ns=t0)
            ne = int(record_s)
            w.write("env", np.column_stack([np.full(ne, temp), np.full(ne, temp - 1)]), t0_ns=t0)


def settings(data: Path):
    from bshm.analysis.job_config import resolve_settings

    st = resolve_settings(data, baseline=(START_NS, START_NS + 12 * HOUR_NS))
    win = dataclasses.replace(st.window, decimate_to_hz=50.0, freq_min_hz=0.5, freq_max_hz=15.0)
    return dataclasses.replace(st, window=win)


def run_once(data: Path, workers: int | None) -> tuple[float, float]:
    from bshm.analysis.job import run_analysis

    shutil.rmtree(data / "results", ignore_errors=True)
    t = time.perf_counter()
    s = run_analysis(data, workers=workers, progress=False, settings=settings(data))
    wall = time.perf_counter() - t
    assert s.processed > 0, s.to_json()
    # time of the derived step alone (rerun: no window to identify)
    t = time.perf_counter()
    run_analysis(data, progress=False, settings=settings(data))
    return wall, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    try:
        t = time.perf_counter()
        write_records(tmp, args.records)
        print(
            f"wrote {args.records} records (12 ch x 600 s x 100 Hz) in {time.perf_counter() - t:.1f} s"
        )
        run_once(tmp, None)  # warm-up: Numba caches, imports
        res = {}
        for label, workers in (("local", None), ("dask --workers 2", 2)):
            walls, derived = [], []
            for _ in range(args.repeat):
                w, d = run_once(tmp, workers)
                walls.append(w)
                derived.append(d)
            res[label] = (statistics.median(walls), statistics.median(derived))
        n = args.records
        print(
            f"{'executor':<18} {'wall s':>8} {'windows/min':>12} {'derive s':>9} {'year (8760) h':>14}"
        )
        for label, (w, d) in res.items():
            print(f"{label:<18} {w:8.1f} {60 * n / w:12.1f} {d:9.2f} {8760 * w / n / 3600:14.2f}")
        ratio = res["local"][0] / res["dask --workers 2"][0]
        print(f"speed-up of dask --workers 2 over local: {ratio:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
