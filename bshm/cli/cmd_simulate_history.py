"""``bshm simulate history --days N --out DIR``: a simulated long-term history."""

from __future__ import annotations

import argparse

NAME = "history"
GROUP = "simulate"
HELP = "write a simulated long-term history (temperature, traffic, damage) as raw HDF5"
DESCRIPTION = """\
Simulate the 3-span bridge (20 + 30 + 20 m) for N days and write the records
straight into raw HDF5 files in DIR: sources acc (A01..A08, --fs Hz), strain
(S1..S4, 20 Hz) and env (T1 structural, T2 air temperature, 1 Hz). One
record of --record-length every --every, with daily and seasonal temperature
cycles (frost stiffens the bridge), time-of-day traffic and, optionally, a
local stiffness loss from --damage-at on.

DIR also receives truth.json (the true frequencies, damping and shapes of
every record, and the damage) and station.toml (the simulated station
config, data_dir = ".", unless one exists), so 'bshm analyze DIR' works.

Randomness comes from --seed only: the same seed gives the same files for
any number of --workers.

examples:
    bshm simulate history --days 30 --out sim30
    bshm simulate history --days 60 --out simdmg --damage-at 40d \\
        --severity 0.2 --damage-location 35 --damage-length 3 --workers 2
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--days", type=float, required=True, help="length of the history (days)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    parser.add_argument("--start", default="2026-01-01T00:00:00Z",
                        help="first record (ISO 8601 UTC; default 2026-01-01T00:00:00Z)")
    parser.add_argument("--every", default="1h", help="record period (default 1h)")
    parser.add_argument("--record-length", default="10min",
                        help="length of each record (default 10min)")
    parser.add_argument("--fs", type=float, default=100.0,
                        help="acceleration sampling rate in Hz (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--damage-at", metavar="TIME_OR_OFFSET",
                        help="damage from this time on: ISO 8601 UTC, or an offset "
                             "from --start such as 40d or 36h")
    parser.add_argument("--severity", type=float, default=0.1,
                        help="fractional stiffness (EI) loss of the damage (default 0.1)")
    parser.add_argument("--damage-location", type=float, default=35.0, metavar="X_M",
                        help="centre of the damage along the bridge, m (default 35)")
    parser.add_argument("--damage-length", type=float, default=3.0, metavar="L_M",
                        help="length of the damaged zone, m (default 3)")
    parser.add_argument("--rollover", default="1d",
                        help="period of one raw file (default 1d)")
    parser.add_argument("--compression", choices=("lzf", "gzip", "none"), default="lzf",
                        help="HDF5 compression of the raw files (default lzf; none is fastest)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes generating records (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace raw files of the station already in DIR")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _duration_s(text: str, option: str) -> float:
    from bshm.errors import ConfigError
    from bshm.timeutil import parse_duration

    try:
        ns = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None
    if ns <= 0:
        raise ConfigError(f"{option}: must be > 0, got {text!r}")
    return ns / 1e9


def _damage_time(text: str, start_ns: int) -> int:
    from bshm.errors import ConfigError
    from bshm.timeutil import parse_duration, parse_time

    try:
        return start_ns + parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_time(text)
    except ValueError:
        raise ConfigError(f"--damage-at: {text!r} is neither a time (ISO 8601, e.g. "
                          "2026-02-10T00:00:00Z) nor an offset from --start "
                          "(e.g. 40d, 36h)") from None


def _options(args: argparse.Namespace) -> dict:
    """Validate the arguments; every problem at once as a ConfigError."""
    import math

    from bshm.errors import ConfigError
    from bshm.timeutil import parse_time

    problems = []
    opts: dict = {}
    if not (math.isfinite(args.days) and args.days > 0):
        problems.append(f"--days must be > 0, got {args.days:g}")
    try:
        opts["start_ns"] = parse_time(args.start)
    except ValueError as exc:
        problems.append(f"--start: {exc}")
    for key, option, text in (("every_s", "--every", args.every),
                              ("record_s", "--record-length", args.record_length),
                              ("rollover_s", "--rollover", args.rollover)):
        try:
            opts[key] = _duration_s(text, option)
        except ConfigError as exc:
            problems.append(str(exc))
    if opts.get("record_s", 1.0) < 1.0:
        problems.append(f"--record-length must be at least 1s, got {args.record_length}")
    if "every_s" in opts and "record_s" in opts and opts["record_s"] > opts["every_s"]:
        problems.append(f"--record-length ({args.record_length}) is longer than "
                        f"--every ({args.every})")
    if not (math.isfinite(args.fs) and args.fs >= 40.0):
        problems.append(f"--fs must be >= 40 Hz (strains are written at 20 Hz), "
                        f"got {args.fs:g}")
    if args.workers < 1:
        problems.append(f"--workers must be >= 1, got {args.workers}")
    if not 0.0 <= args.severity < 1.0:
        problems.append(f"--severity must be in [0, 1) (fraction of EI lost), "
                        f"got {args.severity:g}")
    if not 0.0 <= args.damage_location <= 70.0:
        problems.append(f"--damage-location must be within the bridge (0..70 m), "
                        f"got {args.damage_location:g}")
    if not args.damage_length > 0:
        problems.append(f"--damage-length must be > 0 m, got {args.damage_length:g}")
    if args.damage_at is not None and "start_ns" in opts:
        try:
            opts["damage_ns"] = _damage_time(args.damage_at, opts["start_ns"])
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError(problems)
    return opts


def _progress_for(bar):
    """A ``progress(done, total)`` callback advancing a tqdm bar."""

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(1)

    return progress


def run(args: argparse.Namespace) -> int:
    """Simulate, write, print a summary."""
    import json
    import os
    import sys

    opts = _options(args)
    if args.workers > 1:   # the process pool is the parallelism: one BLAS thread each
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    from bshm.fixtures.bridge import Damage
    from bshm.fixtures.history import simulate_history
    from bshm.timeutil import to_iso

    damage = None
    if "damage_ns" in opts:
        damage = Damage(args.damage_location, args.damage_length, args.severity,
                        opts["damage_ns"])
    progress = None
    bar = None
    if not args.json and sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=None, unit="rec", desc="simulating", leave=False)
            progress = _progress_for(bar)
    try:
        summary = simulate_history(
            args.out, args.days, start_ns=opts["start_ns"], every_s=opts["every_s"],
            record_s=opts["record_s"], fs=args.fs, damage=damage, seed=args.seed,
            workers=args.workers, progress=progress, rollover_s=opts["rollover_s"],
            overwrite=args.overwrite,
            compression=None if args.compression == "none" else args.compression)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    mb = summary["bytes"] / 1e6
    print(f"simulated {summary['days']:g} days: {summary['records']} records, "
          f"{summary['files']} files, {mb:.1f} MB in {summary['wall_s']:.1f} s "
          f"-> {summary['out_dir']}")
    if damage is not None:
        print(f"damage: {damage.severity:.0%} EI loss over {damage.length_m:g} m at "
              f"x = {damage.x_m:g} m from {to_iso(damage.time_ns, digits=0)}")
    print(f"truth: {summary['truth']}")
    if summary["station_toml"]:
        print(f"config: {summary['station_toml']}  (next: bshm analyze {summary['out_dir']})")
    return 0
