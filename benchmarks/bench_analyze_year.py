"""A year of ``bshm analyze``: 8,760 hourly 10-minute windows of 12 channels, measured.

Step 1 (once): generate the year into a folder given on the command line:
8,760 hourly raw HDF5 files (the real raw-store writer), each holding a
10-minute record of 12 acceleration channels at 100 Hz and two temperatures
at 1 Hz, plus a ``station.toml`` with the sample station's analysis settings
(decimation to 50 Hz, 0.5-15 Hz, SSI-COV).  The records come from a fast
generator written here: the simulated bridge's modal truth (a 12-sensor
layout; the frequencies follow a daily and a seasonal temperature cycle,
frozen bearings below 0 degC included) and each mode's coordinate drawn as
white noise through its exact discrete two-pole filter (about 20 ms per
record, against about 200 ms for ``BridgeModel.simulate`` with traffic), with
2 % sensor noise.  ``--hours`` makes a shorter history for a try-out.

Step 2: time ``bshm analyze DIR`` as a user runs it: a subprocess, the
default environment (no thread variable set), ``--workers 2`` (and, with
``--local``, the one-process executor too), from an empty results folder.

Usage::

    .venv/bin/python benchmarks/bench_analyze_year.py --out /data/year [--hours 8760]
        [--workers 2] [--local] [--keep] [--generate-only] [--timeout S]

The year takes about 25 GB (float32, lzf); ``--keep`` keeps it after the
run, otherwise only the results folder is removed before each timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# 2025-01-01T00:00:00Z: the whole year lies in the past of the clock (bshm analyze
# ignores windows dated more than a day after it as "future")
START_NS = 1_735_689_600_000_000_000
HOUR_NS = 3_600_000_000_000
FS = 100.0
RECORD_S = 600.0
X12 = (3.0, 9.0, 15.0, 23.0, 28.0, 33.0, 37.0, 42.0, 47.0, 53.0, 60.0, 66.0)
NAMES = tuple(f"A{i + 1:02d}" for i in range(12))

STATION = """\
[station]
name = "year"
data_dir = "."
rollover = "1h"

[bridge]
spans = [20.0, 30.0, 20.0]

[[sources]]
name = "acc"
kind = "serial"
port = "dev/acc"
fs = 100.0
{channels}
[[sources]]
name = "env"
kind = "modbus-tcp"
port = 5020
poll_rate = 1.0
[[sources.registers]]
name = "T1"
quantity = "temperature"
unit = "degC"
address = 0
[[sources.registers]]
name = "T2"
quantity = "temperature"
unit = "degC"
address = 2

[analysis]
source = "acc"
window = "10min"
decimate_to = 50.0
freq_range = [0.5, 15.0]
method = "ssi-cov"
temperature = "T1"
baseline_days = 60
"""


def temperature(hour: np.ndarray) -> np.ndarray:
    """Structural temperature (degC): a seasonal and a daily cycle (frost in winter)."""
    season = 9.0 - 11.0 * np.cos(2 * np.pi * hour / 8760.0)
    return season + 4.0 * np.sin(2 * np.pi * (hour % 24 - 9) / 24.0)


def write_station(out: Path) -> None:
    ch = "".join(
        f'[[sources.channels]]\nname = "{n}"\nquantity = "acceleration"\nunit = "m/s2"\n'
        f'location = {x}\ndirection = "z"\n'
        for n, x in zip(NAMES, X12)
    )
    (out / "station.toml").write_text(STATION.format(channels=ch), encoding="utf-8")


def generate(out: Path, hours: int, seed: int = 2026) -> float:
    """Write ``hours`` hourly records into ``out``; returns the wall time (s)."""
    from bshm.fixtures.bridge import BridgeModel, BridgeParams
    from scipy.signal import lfilter

    from bshm.store import ChannelMeta, RawWriter, SourceSpec

    out.mkdir(parents=True, exist_ok=True)
    write_station(out)
    model = BridgeModel(BridgeParams(acc_x=X12), seed=seed)
    acc = tuple(
        ChannelMeta(n, "acceleration", "m/s2", (float(x), 0.0, 0.0), "z")
        for n, x in zip(NAMES, X12)
    )
    env = (ChannelMeta("T1", "temperature", "degC"), ChannelMeta("T2", "temperature", "degC"))
    specs = [SourceSpec("acc", "simulated", FS, acc), SourceSpec("env", "simulated", 1.0, env)]
    rng = np.random.default_rng(seed)
    n, warm = int(RECORD_S * FS), 2000
    temps = temperature(np.arange(hours))
    t_start = time.perf_counter()
    with RawWriter(out, "year", specs, rollover_s=3600.0, flush_interval_s=60.0) as w:
        for k in range(hours):
            truth = model.modal_truth(float(temps[k]))
            y = np.zeros((n, 12))
            amp = np.exp(rng.normal(0.0, 0.3))  # wind varies from hour to hour
            for f, z, phi in zip(truth.frequencies, truth.damping, truth.shapes.T):
                om = 2 * np.pi * f
                mu = np.exp((-z * om + 1j * om * np.sqrt(1 - z * z)) / FS)
                q = lfilter([1.0], [1.0, -2 * mu.real, abs(mu) ** 2], rng.standard_normal(n + warm))
                q = q[warm:] * (amp * 0.01 / q.std())
                y += q[:, None] * phi[None, :]
            y += 0.02 * y.std(axis=0) * rng.standard_normal(y.shape)
            t0 = START_NS + k * HOUR_NS
            w.write("acc", y.astype(np.float32), t0_ns=t0)
            ne = int(RECORD_S)
            tt = np.full(ne, temps[k]) + 0.05 * rng.standard_normal(ne)
            w.write("env", np.column_stack([tt, tt - 1.0]), t0_ns=t0)
            if (k + 1) % 500 == 0:
                el = time.perf_counter() - t_start
                print(f"  {k + 1}/{hours} records, {el:.0f} s", flush=True)
    (out / "GENERATED").write_text(f"{hours}\n", encoding="utf-8")
    return time.perf_counter() - t_start


class StageWatch:
    """Polls ``results/pending/`` during a run: windows staged over time.

    The staged batch files are named ``<first start>_<last start>.npz``;
    for hourly records each holds ``(last - first) / 1 h + 1`` windows.
    Gives the end of the windows phase (the last growth) and the
    throughput even of a run that is stopped before it ends.
    """

    def __init__(self, data: Path, every_s: float = 2.0) -> None:
        import threading

        self.dir = data / "results" / "pending"
        self.every_s = every_s
        self.t0 = time.perf_counter()
        self.staged = 0
        self.t_first: float | None = None
        self.t_last: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _count(self) -> int:
        n = 0
        try:
            names = [p.name for p in self.dir.iterdir() if p.suffix == ".npz"]
        except OSError:
            return 0
        for name in names:
            try:
                a, b = (int(v) for v in name[: -len(".npz")].split("_"))
            except ValueError:
                continue
            n += (b - a) // HOUR_NS + 1
        return n

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            n = self._count()
            now = time.perf_counter() - self.t0
            if n > self.staged:
                self.staged = n
                self.t_first = now if self.t_first is None else self.t_first
                self.t_last = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_analyze(data: Path, workers: int | None, timeout_s: float | None = None) -> dict:
    """``bshm analyze DATA --json`` in a subprocess, default environment.

    With ``timeout_s`` the run is stopped after that many seconds and the
    throughput reached is reported (``finished`` False), never extrapolated.
    """
    shutil.rmtree(data / "results", ignore_errors=True)
    for f in data.glob("alarms*.jsonl"):
        f.unlink()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    cmd = [
        str(Path(sys.executable).parent / "bshm"),
        "-v",
        "analyze",
        str(data),
        "--json",
        "--no-progress",
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    t = time.perf_counter()
    watch = StageWatch(data)
    log = data.parent / f"{data.name}.analyze.log"  # the INFO lines, with their times
    with open(log, "w", encoding="utf-8") as errf:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errf,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the CLI and its Dask workers
            proc.communicate()
            out = None
    err = log.read_text(encoding="utf-8")
    print(f"# log of the run ({log}):")
    for line in err.splitlines():
        if " INFO " in line and "distributed" not in line:
            print("#   " + line[:160])
    if out is None:
        watch.stop()
        wall = time.perf_counter() - t
        return {
            "finished": False,
            "wall_s": wall,
            "staged": watch.staged,
            "t_first": watch.t_first,
            "t_last": watch.t_last,
        }
    wall = time.perf_counter() - t
    watch.stop()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"bshm analyze failed ({proc.returncode}): {err[-2000:]}")
    summary = json.loads(out)
    return {
        "finished": True,
        "wall_s": wall,
        "windows": summary["windows"],
        "modes": len(summary["tracked_modes"]),
        "staged": watch.staged,
        "t_first": watch.t_first,
        "t_last": watch.t_last,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="folder for the generated year")
    ap.add_argument("--hours", type=int, default=8760, help="records to generate (default 8760)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--local", action="store_true", help="also time the one-process executor")
    ap.add_argument("--keep", action="store_true", help="keep the generated data afterwards")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="stop a run after this many seconds and report the throughput reached",
    )
    args = ap.parse_args()
    mark = args.out / "GENERATED"
    if mark.exists() and int(mark.read_text().strip()) == args.hours:
        print(f"# using the {args.hours} records already in {args.out}")
    else:
        print(f"# generating {args.hours} records into {args.out}")
        dt = generate(args.out, args.hours)
        print(f"# generated in {dt:.0f} s")
    if args.generate_only:
        return
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, nproc={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} before the run"
    )
    runs = [(f"--workers {args.workers}", args.workers)]
    if args.local:
        runs.append(("local", None))
    for label, workers in runs:
        r = run_analyze(args.out, workers, args.timeout)
        if r["t_last"] is not None and r["t_first"] is not None:
            ww = r["staged"] / max(r["t_last"], 1e-9)
            print(
                f"{label}: {r['staged']} windows staged by {r['t_last']:.0f} s "
                f"(first batch at {r['t_first']:.0f} s): {ww:.2f} windows/s"
            )
        if not r["finished"]:
            print(f"{label}: NOT FINISHED, stopped after {r['wall_s']:.0f} s")
            continue
        w = r["windows"]
        after = r["wall_s"] - (r["t_last"] or 0.0)
        print(
            f"{label}: {r['wall_s']:.0f} s for {w['processed']} processed + "
            f"{sum(w['skipped'].values())} skipped windows ({w['skipped']}); "
            f"{60 * args.hours / r['wall_s']:.0f} windows/min; {r['modes']} tracked modes; "
            f"after the last staged batch {after:.0f} s; "
            f"load average {os.getloadavg()[0]:.1f} after"
        )
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
