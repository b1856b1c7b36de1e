"""``bshm demo``: the whole pipeline on the simulated bridge, on one machine."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

NAME = "demo"
GROUP = None
HELP = "run the whole pipeline on the simulated bridge (about 3 minutes on 2 cores)"
DESCRIPTION = """\
Run bshm end to end on the simulated bridge, with no hardware:

  1. write a simulated station config (bshm new-station --simulated);
  2. serve its virtual devices (a serial accelerometer digitizer on a
     pseudo-terminal, Modbus TCP and RTU strain/temperature conditioners)
     and record them live for a few seconds (bshm acquire);
  3. simulate months of history with temperature cycles, frost and a
     damage injected part-way (bshm simulate history);
  4. analyse it: modes, tracking, temperature compensation, damage indices,
     alarms (bshm analyze);
  5. write the HTML report (bshm report).

Everything goes into --out (default ./demo-out). --view opens the viewer on
the results at the end.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "--out", default="demo-out", metavar="DIR", help="output folder (default: ./demo-out)"
    )
    parser.add_argument(
        "--days", type=float, default=60.0, help="days of simulated history (default: 60)"
    )
    parser.add_argument("--every", default="3h", help="one record every ... (default: 3h)")
    parser.add_argument(
        "--record-length", default="10min", help="length of each record (default: 10min)"
    )
    parser.add_argument(
        "--damage-day", type=float, default=40.0, help="day of the injected damage (default: 40)"
    )
    parser.add_argument(
        "--severity",
        type=float,
        default=0.3,
        help="fractional stiffness loss of the damage (default: 0.3)",
    )
    parser.add_argument(
        "--live-seconds",
        type=float,
        default=10.0,
        help="seconds of live acquisition from the virtual devices (0: skip)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="processes for simulation and analysis (default: 2)"
    )
    parser.add_argument("--view", action="store_true", help="open the viewer at the end")
    parser.add_argument(
        "--force", action="store_true", help="reuse --out even if it holds an earlier demo"
    )


def _step(n: int, total: int, text: str) -> float:
    print(f"\n[{n}/{total}] {text}", flush=True)
    return time.perf_counter()


def _free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _live(out: Path, seconds: float) -> int:
    """Write the simulated station, serve its devices, record them; the recorder's exit code."""
    from bshm.acquisition.recorder import Recorder
    from bshm.config import load_station
    from bshm.fixtures.devices import start_devices
    from bshm.fixtures.stations import simulated_station_toml
    from bshm.store.inspect import summarize

    live = out / "live"
    live.mkdir(parents=True, exist_ok=True)
    text = simulated_station_toml("data").replace("port = 15020", f"port = {_free_tcp_port()}")
    cfg = live / "station.toml"
    cfg.write_text(text, encoding="utf-8")
    station = load_station(cfg)
    print(
        f"    station {station.name!r}: "
        + ", ".join(
            f"{s.name} ({s.kind}, {len(s.channels)} ch at {s.fs:g} Hz)" for s in station.sources
        )
    )
    with start_devices(station) as devices:
        for line in devices.describe():
            print(f"    virtual device {line}")
        print(f"    recording {seconds:g} s ...", flush=True)
        rc = Recorder(station, duration_s=seconds, status_interval_s=3600).run()
    summary = summarize(station.data_dir)
    for s in summary["sources"]:
        c = s.get("counters", {})
        print(
            f"    {s['name']:7s} {s['samples']:6d} samples x {len(s['channels'])} ch, "
            f"gaps {s['gaps']}, frames ok {c.get('frames_ok', 0)}, bad {c.get('frames_bad', 0)}, "
            f"modbus errors {c.get('modbus_errors', 0)}"
        )
    if rc != 0:
        print(
            f"    PROBLEM: the live acquisition ended with code {rc} (a device delivered "
            "nothing or samples were lost; the messages above say which); the demo goes on "
            "with the simulated history and exits with 1",
            flush=True,
        )
    return rc


def _history(out: Path, args: argparse.Namespace):
    from bshm.fixtures.bridge import Damage
    from bshm.fixtures.history import simulate_history
    from bshm.timeutil import NS_PER_S, parse_duration, parse_time

    start = parse_time("2026-01-01T00:00:00Z")
    damage = Damage(
        x_m=35.0,
        length_m=3.0,
        severity=args.severity,
        time_ns=start + int(args.damage_day * 86400 * NS_PER_S),
    )
    hist = out / "history"
    summary = simulate_history(
        hist,
        args.days,
        start_ns=start,
        every_s=parse_duration(args.every) / NS_PER_S,
        record_s=parse_duration(args.record_length) / NS_PER_S,
        damage=damage,
        seed=1,
        workers=args.workers,
        progress=None,
    )
    return hist, damage, summary


def run(args: argparse.Namespace) -> int:
    """Run the demo steps and print what each produced."""
    import logging

    bshm_log = logging.getLogger("bshm")
    level = bshm_log.level
    if not getattr(args, "verbose", 0):
        # the demo prints its own summary of each step; library logs only when asked (-v)
        bshm_log.setLevel(logging.WARNING)
    try:
        return _run(args)
    finally:
        bshm_log.setLevel(level)  # (a caller in the same process keeps its logging)


def _run(args: argparse.Namespace) -> int:
    from bshm.errors import BshmError
    from bshm.timeutil import to_iso

    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        if not (out / "history").exists() and not (out / "live").exists():
            raise BshmError(f"{out} exists and is not a bshm demo folder; choose another --out")
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    total = 5 if args.live_seconds > 0 else 4
    n = 0
    live_rc = 0

    if args.live_seconds > 0:
        n += 1
        t = _step(n, total, "live acquisition from the virtual devices of the simulated bridge")
        live_rc = _live(out, args.live_seconds)
        print(f"    done in {time.perf_counter() - t:.1f} s")

    n += 1
    t = _step(
        n,
        total,
        f"simulated history: {args.days:g} days, a {args.record_length} record "
        f"every {args.every}, damage on day {args.damage_day:g}",
    )
    hist, damage, hsum = _history(out, args)
    print(
        f"    damage: stiffness -{damage.severity:.0%} over {damage.length_m:g} m at "
        f"x = {damage.x_m:g} m from {to_iso(damage.time_ns, digits=0)}"
    )
    print(
        f"    {hsum.get('records', '?')} records in {hsum.get('files', '?')} files "
        f"({hsum.get('bytes', 0) / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
    )

    n += 1
    t = _step(n, total, "analysis: modes, tracking, temperature compensation, damage indices")
    from bshm.analysis.job import run_analysis

    # analysed as if live: "now" is the end of the simulated history (else the job would
    # rightly report that no new raw data arrived since then)
    end_ns = damage.time_ns + int((args.days - args.damage_day) * 86400e9)
    summary = run_analysis(
        hist,
        workers=args.workers if args.workers > 1 else None,
        progress=False,
        now_ns=end_ns,
    )
    w = summary.to_json()["windows"]
    print(
        f"    windows processed {w['processed']}, skipped {sum(w['skipped'].values())} "
        f"{dict(w['skipped']) if w['skipped'] else ''} in {time.perf_counter() - t:.1f} s"
    )
    for m in summary.tracked_modes:
        print(
            f"    mode {m['id']}: {m['mean_frequency_hz']:.3f} Hz, found in "
            f"{m['availability']:.0%} of windows"
        )
    _print_alarms(summary.alarms, damage.time_ns)
    _print_state(summary.state)

    n += 1
    t = _step(n, total, "report")
    report = _report(summary.results_path, out / "report.html")
    print(f"    {report}  (open it in a browser)")

    print(f"\ndemo finished in {time.perf_counter() - t_all:.0f} s; everything is in {out}/")
    print(f"    bshm inspect {hist}          bshm view {summary.results_path}")
    if live_rc:
        print(f"the live acquisition step had a problem (code {live_rc}): see step 1")
    if args.view:
        from bshm.cli import main as cli_main

        rc = cli_main(["view", str(summary.results_path)])
        return rc or (1 if live_rc else 0)
    return 1 if live_rc else 0


def _print_alarms(alarms: list[dict], damage_ns: int) -> None:
    from bshm.timeutil import to_iso

    structural = [a for a in alarms if a.get("kind", "structural") == "structural"]
    before = [a for a in structural if a["time_ns"] < damage_ns and a["level"] >= 2]
    after = [a for a in structural if a["time_ns"] >= damage_ns and a["level"] >= 2]
    print(
        f"    structural alarms of level >= 2: {len(before)} before the damage, "
        f"{len(after)} after"
    )
    if after:
        first = min(after, key=lambda a: a["time_ns"])
        hours = (first["time_ns"] - damage_ns) / 3.6e12
        print(
            f"    first: {to_iso(first['time_ns'], digits=0)} ({hours:.0f} h after the damage), "
            f"level {first['level']}: {first['message']}"
        )


def _report(results: Path, target: Path) -> Path:
    from bshm.analysis.report import write_report

    return Path(write_report(results, target))


def _print_state(state: dict) -> None:
    from bshm.alarms import LEVEL_NAMES

    for kind, k in state.get("kinds", {}).items():
        if k.get("active"):
            print(
                f"    alarm state {kind}: {LEVEL_NAMES[k['level']]} ({', '.join(k['subjects'])})"
            )
