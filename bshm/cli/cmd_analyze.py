"""``bshm analyze DATA_DIR``: the incremental long-term monitoring job."""

from __future__ import annotations

import argparse

NAME = "analyze"
GROUP = None
HELP = "process every window not yet processed: modes, tracking, compensation, alarms"
DESCRIPTION = """\
Process every analysis window of DATA_DIR that is not processed yet:
data-quality checks, modal identification, mode tracking, temperature
compensation, damage indices and the alarm states (structural, sensor,
threshold, monitoring). Only the new data are processed: a run costs the
same after a year as after a month. Results go to
DATA_DIR/results/<station>_results.h5; alarm state changes also go to the
alarm feed (JSON lines, one id per alarm). Safe under cron: a second run
while one is active exits at once with code 75, a killed run is finished
by the next (alarms it stored but did not deliver are delivered then).

Config: --config, else DATA_DIR/station.toml, else settings inferred
from the raw files (said on stderr).

Exit codes: 0 success, 1 failure, 2 usage or config error (also a refused
--extend-baseline), 75 another run holds the lock; with --fail-on-alarm
LEVEL, 3 when this run delivered an alarm of that level or above.

examples:
  bshm analyze /data/bridge1
  bshm analyze /data/bridge1 --json --baseline 2026-01-01..2026-01-15
  bshm analyze /data/bridge1 --extend-baseline 2026-04-01..2026-07-01
  bshm analyze /data/bridge1 --workers 2
  bshm analyze /data/bridge1 --scheduler tcp://10.0.0.5:8786
"""

EXIT_ALARM = 3


def _level(text: str) -> int:
    names = {"advisory": 1, "warning": 2, "critical": 3}
    t = text.strip().lower()
    if t in names:
        return names[t]
    if t in {"1", "2", "3"}:
        return int(t)
    raise argparse.ArgumentTypeError(f"{text!r}: use 1, 2, 3 or advisory, warning, critical")


def configure(parser: argparse.ArgumentParser) -> None:  # noqa: D103 - CLI contract
    parser.add_argument("data_dir", metavar="DATA_DIR", help="folder of the raw HDF5 files")
    parser.add_argument(
        "--config",
        metavar="STATION.TOML",
        help="station config (default: DATA_DIR/station.toml if present)",
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")
    parser.add_argument(
        "--baseline",
        metavar="FROM..TO",
        help="training period of the models, ISO 8601 (default: config, else the first 14 "
        "days of the main recording period)",
    )
    exe = parser.add_mutually_exclusive_group()
    exe.add_argument(
        "--workers", type=int, metavar="N", help="run on a local Dask cluster of N worker processes"
    )
    exe.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on an existing Dask scheduler, e.g. tcp://host:8786",
    )
    parser.add_argument(
        "--fail-on-alarm",
        type=_level,
        metavar="LEVEL",
        help=f"exit with code {EXIT_ALARM} when this run delivers an alarm of "
        "LEVEL (1-3 or advisory/warning/critical) or above (a state change; also "
        "alarms a killed earlier run stored but did not deliver)",
    )
    parser.add_argument(
        "--extend-baseline",
        metavar="FROM..TO",
        help="add a period to the training set of the models (a new model version), only "
        "if the structural state over it was normal; 'auto': do it whenever a long, normal "
        "period holds conditions the models do not know yet",
    )
    parser.add_argument(
        "--reprocess",
        action="store_true",
        help="delete the results (not the alarm feed) and process everything again",
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")


def run(args: argparse.Namespace) -> int:  # noqa: D103 - CLI contract
    import json
    import logging
    import sys

    from bshm.analysis.job import EXIT_LOCKED, run_analysis
    from bshm.errors import LockError

    log = logging.getLogger("bshm.analyze")
    if args.workers is not None and args.workers < 1:
        from bshm.errors import ConfigError

        raise ConfigError(f"--workers {args.workers}: must be at least 1")
    try:
        summary = run_analysis(
            args.data_dir,
            config=args.config,
            baseline=args.baseline,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=False if args.no_progress else None,
            reprocess=args.reprocess,
            extend_baseline=args.extend_baseline,
        )
    except LockError as exc:
        print(f"bshm: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    from bshm.delivery import deliver_after_analyze  # alarm delivery (never fails the run)

    delivery = deliver_after_analyze(args.data_dir, args.config)
    if args.json:
        out = summary.to_json()
        if delivery is not None:
            out["delivery"] = delivery
        print(json.dumps(out, indent=2, default=str))
    else:
        _print_text(summary)
        for d in delivery or []:
            print(f"alarm delivery {d['destination']}: {d['status']}"
                  + (f" ({d['error']})" if d["error"] else ""))
    log.debug("results in %s", summary.results_path)
    if args.fail_on_alarm and summary.max_level >= args.fail_on_alarm:
        return EXIT_ALARM
    return 0


def _print_text(s) -> None:
    skipped = sum(s.skipped.values())
    why = ", ".join(f"{k}: {v}" for k, v in sorted(s.skipped.items()))
    print(
        f"{s.station}: {s.processed} windows processed, {skipped} skipped"
        + (f" ({why})" if why else "")
        + f"; {s.total_windows} in {s.results_path}"
    )
    for n in s.notes:
        print(f"note: {n}")
    if s.tracked_modes:
        print("tracked modes:")
        for m in s.tracked_modes:
            f = m["mean_frequency_hz"]
            print(
                f"  {m['id']:>4}  {f:8.3f} Hz  found in {100 * m['availability']:5.1f} % of windows"
                if f is not None
                else f"  {m['id']:>4}  not found yet"
            )
    kinds = s.state.get("kinds", {})
    if kinds:
        from bshm.alarms import LEVEL_NAMES

        parts = []
        for kind, k in kinds.items():
            subj = s.state.get("subjects", {})
            if k.get("active"):
                since = min(
                    (subj[x]["since"] for x in k["subjects"] if subj.get(x, {}).get("since")),
                    default="?",
                )
                parts.append(
                    f"{kind} {LEVEL_NAMES[k['level']]} ({', '.join(k['subjects'])}; since {since})"
                )
            else:
                parts.append(f"{kind} normal")
        print("state: " + "; ".join(parts))
    if s.alarms:
        print(f"{len(s.alarms)} alarm(s) delivered:")
        for a in s.alarms:
            ev = f" {a['event']}" if a.get("event") else ""
            print(
                f"  {a['time']}  {a.get('kind', 'structural')}{ev}  level {a['level']}  "
                f"{a['index']}  {a['message']}"
            )
    else:
        print("no new alarm")
