"""Benchmark: the cost of one ``bshm analyze`` run that adds one window, on a 30-day and a
one-year store (issue 16: cost proportional to new data).

Workload: hourly 10-minute records (the hourly-file store of a live station:
one raw file per hour, 8,760 files a year): 4 accelerations at 50 Hz, 2 strain
gauges at 20 Hz, 2 temperatures at 1 Hz. Analysis settings: 10-min windows,
0.5-15 Hz, SSI-COV time lag 30, orders to 40, 14-day baseline, temperature
compensation, fatigue and channel health on every source.

Building a store (once, kept in ``--cache``):

1. a *fast generator* (below) writes the raw files: each mode of the
   simulated bridge (``bshm.fixtures.bridge``: its true frequencies, shapes at
   the sensors and temperature effect) is a resonator driven by white noise
   (``scipy.signal.lfilter``), about 100 times faster than the full simulator;
2. the identification results of the history's windows are *generated* too
   (true frequencies plus 0.2 % scatter, shapes plus noise) and staged where
   the job stages its own batches (``results/pending``), because identifying
   8,760 windows takes hours here;
3. one real ``run_analysis`` then merges them, trains the models, judges every
   window and runs the strain part over the whole history.

Measured: real runs (identification included) that each add one new hourly
file, in-process after a warm-up, and the same as a fresh ``bshm analyze``
process; plus a run with nothing new. Medians of ``--repeat`` runs.

Usage::

    .venv/bin/python benchmarks/bench_analyze.py [--days 30 365] [--repeat 5]
        [--cache ~/.cache/bshm-bench-analyze]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

START_NS = 1_735_689_600_000_000_000  # 2025-01-01: a year that lies in the past of the clock
HOUR_NS = 3_600_000_000_000
FS, REC_S, STRAIN_FS = 50.0, 600.0, 20.0
ACC_X = (14.0, 26.0, 35.0, 44.0)
STATION = "bench"

TOML = """\
[station]
name = "bench"
data_dir = "."

[[sources]]
name = "acc"
kind = "serial"
port = "dev/acc"
fs = 50.0
{acc}
[[sources]]
name = "strain"
kind = "serial"
port = "dev/strain"
fs = 20.0
[[sources.channels]]
name = "S1"
quantity = "strain"
unit = "um/m"
column = 0
[[sources.channels]]
name = "S2"
quantity = "strain"
unit = "um/m"
column = 1

[[sources]]
name = "env"
kind = "serial"
port = "dev/env"
protocol = "line"
fs = 1.0
[[sources.channels]]
name = "T1"
quantity = "temperature"
unit = "degC"
column = 0
[[sources.channels]]
name = "T2"
quantity = "temperature"
unit = "degC"
column = 1

[analysis]
source = "acc"
window = "10min"
freq_range = [0.5, 15.0]
max_order = 40
time_lag = 30
temperature = "T1"
baseline_days = 14

[alarms]
feed = "alarms.jsonl"
"""


# --------------------------------------------------------------------------- generator
class FastBridge:
    """Modal superposition of the simulated bridge's modes, fast (see the module docstring)."""

    def __init__(self, seed: int = 5) -> None:
        from bshm.fixtures.bridge import BridgeModel

        self.model = BridgeModel(seed=seed)
        truth = self.model.modal_truth(self.model.params.t_ref_c)
        keep = truth.frequencies < 16.0
        self.f0 = truth.frequencies[keep]
        self.zeta = truth.damping[keep]
        xs = np.asarray(self.model.sensor_x, float)
        idx = [int(np.argmin(np.abs(xs - x))) for x in ACC_X]
        self.shapes = truth.shapes[idx][:, keep]  # (4, m)

    def temperature(self, k: int) -> tuple[float, float]:
        day = k / 24.0
        season = 10.0 - 9.0 * np.cos(2 * np.pi * (day - 15.0) / 365.25)
        daily = 4.0 * np.sin(2 * np.pi * (k % 24 - 9.0) / 24.0)
        weather = 2.0 * np.sin(2 * np.pi * day / 5.3) + 1.5 * np.sin(2 * np.pi * day / 11.7)
        t = float(season + daily + weather)
        return t, t - 1.5 + 1.0 * np.sin(2 * np.pi * day / 3.1)

    def frequencies(self, temp_c: float) -> np.ndarray:
        return self.f0 * np.sqrt(self.model.stiffness_factor(temp_c))

    def record(self, k: int) -> dict[str, np.ndarray]:
        from scipy.signal import lfilter

        rng = np.random.default_rng([7, k])
        t1, t2 = self.temperature(k)
        f = self.frequencies(t1)
        n = int(REC_S * FS)
        acc = np.zeros((n, len(ACC_X)))
        amp = np.exp(rng.normal(0.0, 0.4))
        for j, (fj, zj) in enumerate(zip(f, self.zeta)):
            w = 2 * np.pi * fj / FS
            r = np.exp(-zj * w)
            y = lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], rng.standard_normal(n + 2000))
            y = y[2000:] * (1e-3 * amp / (1 + j))
            acc += np.outer(y, self.shapes[:, j])
        acc += 2e-5 * rng.standard_normal(acc.shape)
        ns = int(REC_S * STRAIN_FS)
        trucks = np.zeros(ns)
        for _ in range(rng.poisson(20)):
            c, wdt = rng.integers(0, ns), rng.integers(20, 60)
            trucks[max(0, c - wdt) : c + wdt] += rng.uniform(20, 120)
        strain = np.column_stack(
            [
                40 + 1.5 * t1 + trucks + 0.5 * rng.standard_normal(ns),
                -30 - 2.5 * t1 + 0.7 * trucks + 0.5 * rng.standard_normal(ns),
            ]
        )
        ne = int(REC_S)
        env = np.column_stack(
            [t1 + 0.02 * rng.standard_normal(ne), t2 + 0.05 * rng.standard_normal(ne)]
        )
        return {"acc": acc, "strain": strain, "env": env, "freq": f, "temp": t1}


def specs():
    from bshm.store import ChannelMeta, SourceSpec

    acc = tuple(
        ChannelMeta(f"A{i + 1}", "acceleration", "m/s2", (x, 0.0, 0.0), "z")
        for i, x in enumerate(ACC_X)
    )
    strain = (ChannelMeta("S1", "strain", "um/m"), ChannelMeta("S2", "strain", "um/m"))
    env = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    return [
        SourceSpec("acc", "simulated", FS, acc),
        SourceSpec("strain", "simulated", STRAIN_FS, strain),
        SourceSpec("env", "simulated", 1.0, env),
    ]


def write_record(folder: Path, gen: FastBridge, k: int) -> dict[str, np.ndarray]:
    from bshm.fixtures.rawfiles import write_record_file

    rec = gen.record(k)
    t0 = START_NS + k * HOUR_NS
    write_record_file(folder, STATION, specs(), t0, rec, rollover_s=3600.0, dtype=np.float32)
    return rec


def staged_result(gen: FastBridge, rec: dict, k: int, rng):
    """The identification result of window ``k``: true modes with realistic scatter."""
    from bshm.analysis.windows import WindowResult

    t0 = START_NS + k * HOUR_NS
    f = rec["freq"] * (1 + 0.002 * rng.standard_normal(rec["freq"].size))
    shapes = gen.shapes + 0.02 * rng.standard_normal(gen.shapes.shape)
    m = f.size
    return WindowResult(
        t0,
        t0 + int(REC_S * 1e9),
        "processed",
        "",
        float(np.median(rec["acc"].std(axis=0))),
        {"T1": float(rec["env"][:, 0].mean()), "T2": float(rec["env"][:, 1].mean())},
        f,
        gen.zeta * (1 + 0.1 * rng.standard_normal(m)),
        shapes.astype(np.complex128),
        np.full(m, 0.95),
        np.full(m, 12, np.int32),
    )


def build(folder: Path, days: int, keep: int) -> dict[str, float]:
    """Write ``days`` of hourly records but the last ``keep``; stage and analyse them."""
    from bshm.analysis.job import run_analysis
    from bshm.analysis.job_exec import write_pending

    folder.mkdir(parents=True, exist_ok=True)
    gen = FastBridge()
    acc = "".join(
        f'[[sources.channels]]\nname = "A{i + 1}"\nquantity = "acceleration"\nunit = "m/s2"\n'
        f"location = {x}\ncolumn = {i}\n"
        for i, x in enumerate(ACC_X)
    )
    (folder / "station.toml").write_text(TOML.format(acc=acc))
    n = days * 24 - keep
    rng = np.random.default_rng(3)
    t = time.perf_counter()
    batch = []
    for k in range(n):
        rec = write_record(folder, gen, k)
        batch.append(staged_result(gen, rec, k, rng))
        if len(batch) == 256 or k == n - 1:
            write_pending(folder / "results" / "pending", batch)
            batch = []
    t_write = time.perf_counter() - t
    t = time.perf_counter()
    s = run_analysis(folder, progress=False, now_ns=START_NS + n * HOUR_NS)
    t_analyse = time.perf_counter() - t
    (folder / "built.json").write_text(json.dumps({"days": days, "windows": n}))
    return {"write_s": t_write, "analyse_s": t_analyse, "windows": s.total_windows}


def measure(folder: Path, first_new: int, repeat: int) -> dict[str, list[float]]:
    """Add one hourly record per run; time the runs (in process, then as a process)."""
    import resource

    from bshm.analysis.job import run_analysis

    gen = FastBridge()
    keys = ("noop", "one", "cli", "noop_cpu", "one_cpu", "cli_cpu", "judged", "opened")
    out: dict[str, list[float]] = {k: [] for k in keys}
    k = first_new
    run_analysis(folder, progress=False, now_ns=START_NS + k * HOUR_NS)  # warm-up
    for _ in range(repeat):
        write_record(folder, gen, k)
        k += 1
        t, c = time.perf_counter(), time.process_time()
        s = run_analysis(folder, progress=False, now_ns=START_NS + k * HOUR_NS)
        out["one"].append(time.perf_counter() - t)
        out["one_cpu"].append(time.process_time() - c)
        out["judged"].append(s.judged)
        out["opened"].append(s.files.get("opened", -1))
        t, c = time.perf_counter(), time.process_time()
        run_analysis(folder, progress=False, now_ns=START_NS + k * HOUR_NS)
        out["noop"].append(time.perf_counter() - t)
        out["noop_cpu"].append(time.process_time() - c)
    for _ in range(repeat):  # a fresh process each time: imports and caches included
        write_record(folder, gen, k)
        k += 1
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(
            [
                str(Path(sys.executable).with_name("bshm")),
                "analyze",
                str(folder),
                "--json",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        out["cli"].append(time.perf_counter() - t)
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["cli_cpu"].append(ru2.ru_utime - ru.ru_utime + ru2.ru_stime - ru.ru_stime)
        if r.returncode not in (0, 3):
            raise SystemExit(f"bshm analyze failed: {r.stderr}")
        judged = json.loads(r.stdout)["windows"]["judged"]
        if judged != 1:  # e.g. windows dated after the wall clock are ignored
            raise SystemExit(f"bshm analyze judged {judged} windows, not 1: {r.stdout[:500]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, nargs="+", default=[30, 365])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", default=str(Path.home() / ".cache" / "bshm-bench-analyze"))
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    # the folder summary cache is rewritten whole at every closed file (16 MB for a year of
    # hourly files): writing 8,760 files with it is quadratic. The job does not use it for
    # its runs (it opens the new files only), so the benchmark's stores are built without.
    os.environ["BSHM_CACHE_DIR"] = "/proc/bshm-bench-no-cache"
    rows = []
    for days in args.days:
        base = Path(args.cache) / f"store-{days}d"
        keep = 3 * args.repeat + 2
        if args.rebuild or not (base / "built.json").exists():
            shutil.rmtree(base, ignore_errors=True)
            info = build(base, days, keep)
            print(
                f"{days} days: wrote {info['windows']} windows in {info['write_s']:.0f} s, "
                f"first analysis {info['analyse_s']:.0f} s",
                flush=True,
            )
        work = Path(args.cache) / f"work-{days}d"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(base, work, symlinks=True)
        first = json.loads((base / "built.json").read_text())["windows"]
        m = measure(work, first, args.repeat)
        rows.append((days, first, m))
        print(
            f"{days} days: one new window {statistics.median(m['one']):.2f} s (runs "
            f"{', '.join(f'{x:.2f}' for x in m['one'])}), nothing new "
            f"{statistics.median(m['noop']):.2f} s, as a process "
            f"{statistics.median(m['cli']):.2f} s; files opened {m['opened']}, "
            f"judged {m['judged']}",
            flush=True,
        )
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"\nload average at the end: {' '.join(load)} (2 cores)")
    print(
        f"{'store':>8} {'windows':>8} {'one new: wall / CPU (s)':>24} "
        f"{'nothing new: wall / CPU':>24} {'bshm analyze: wall / CPU':>25}"
    )
    med = statistics.median
    for days, n, m in rows:
        print(
            f"{days:>6} d {n:>8} {med(m['one']):>14.2f} / {med(m['one_cpu']):<6.2f} "
            f"{med(m['noop']):>14.2f} / {med(m['noop_cpu']):<6.2f} "
            f"{med(m['cli']):>15.2f} / {med(m['cli_cpu']):<6.2f}"
        )
    if len(rows) == 2:
        for key in ("one", "one_cpu", "cli_cpu"):
            a, b = (med(r[2][key]) for r in rows)
            print(f"ratio {rows[1][0]} d / {rows[0][0]} d ({key}): {b / a:.2f}")


if __name__ == "__main__":
    main()
