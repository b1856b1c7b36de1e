"""``bshm export``: modes and time series to Universal Files, trends to CSV/JSON."""

from __future__ import annotations

import argparse

NAME = "export"
GROUP = None
HELP = "modes and time series to UFF (ARTeMIS, MEScope ...), trends to CSV/JSON"
DESCRIPTION = """\
Hand results to other software. What is written depends on --out:

  modes.unv / .uff  Universal File (needs bshm[formats]):
                    dataset 15, the sensor nodes (station locations and
                    directions), and dataset 55, the mode shapes of the
                    tracked modes' reference set, or with --time T of the
                    processed window holding T. With --raw DIR --time FROM..TO,
                    datasets 58: the time series of that period.
  trends.csv        one row per processed window: time, environment
                    (temperatures), each mode's frequency, damping and
                    compensated change, T^2 and alarm level
  trends.json       the same, one JSON object per window (--json without
                    --out prints it)

RESULTS is the results file of 'bshm analyze' or the data folder holding
it. The sensor geometry comes from --config, else the station.toml or raw
files of the data folder (a channel without location or direction is
placed and said on stderr).

examples:
  bshm export /data/bridge1 --out modes.unv
  bshm export /data/bridge1 --out window.unv --time 2026-03-01T12:05
  bshm export --raw /data/bridge1 --time 2026-03-01T12:00..2026-03-01T12:30 --out acc.uff
  bshm export /data/bridge1 --out trends.csv
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm export``."""
    parser.add_argument(
        "results",
        nargs="?",
        metavar="RESULTS",
        help="results file or data folder (optional with --raw)",
    )
    parser.add_argument(
        "--out",
        "-o",
        metavar="FILE",
        help="output: .unv/.uff (Universal File), .csv or .json (trends)",
    )
    parser.add_argument(
        "--time",
        metavar="T|FROM..TO",
        help="one window's modes (T), or the period of the time series (FROM..TO)",
    )
    parser.add_argument("--raw", metavar="DIR", help="raw data folder for time series (dataset 58)")
    parser.add_argument("--source", help="source of the time series (default: the accelerations)")
    parser.add_argument("--channels", metavar="A,B,...", help="channels of the time series")
    parser.add_argument("--config", metavar="STATION.TOML", help="station config (sensor geometry)")
    parser.add_argument(
        "--complex",
        action="store_true",
        help="complex modes (UFF 55 analysis type 3) instead of normal modes",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the trends (or, with a UFF --out, the summary) as JSON",
    )


def run(args: argparse.Namespace) -> int:
    """Export and say what was written."""
    from pathlib import Path

    from bshm.errors import ConfigError
    from bshm.io.export import dumps, export_uff, find_results, parse_span

    out = Path(args.out) if args.out else None
    kind = out.suffix.lower() if out else None
    if out is None and not args.json:
        raise ConfigError("give --out FILE (.unv, .uff, .csv or .json) or --json")
    if kind is not None and kind not in (".unv", ".uff", ".csv", ".json"):
        raise ConfigError(f"--out {out}: use a .unv/.uff (Universal File), .csv or .json name")
    if kind in (None, ".csv", ".json"):
        if args.results is None:
            raise ConfigError("trends need RESULTS (the results file or data folder)")
        from bshm.io.trends import trends, trends_json, write_trends

        table = trends(find_results(args.results))
        if out is None:
            print(dumps(trends_json(table)))
            return 0
        write_trends(table, out)
        print(f"wrote {out}: {len(table['rows'])} windows, modes {', '.join(table['modes'])}")
        return 0
    at_ns = span = None
    if args.time:
        at_ns, span = parse_span(args.time)
    if span is not None and args.raw is None:
        raise ConfigError("--time FROM..TO exports time series: give --raw DIR")
    if args.raw is not None and span is None:
        raise ConfigError("--raw exports time series: give --time FROM..TO")
    if args.results is None and args.raw is None:
        raise ConfigError("give RESULTS (modes) and/or --raw DIR --time FROM..TO (time series)")
    assert out is not None  # a UFF kind implies --out
    chans = [c.strip() for c in args.channels.split(",") if c.strip()] if args.channels else None
    summary = export_uff(
        out,
        results=args.results,
        raw=args.raw,
        config=args.config,
        at_ns=at_ns,
        span=span,
        source=args.source,
        channels=chans,
        complex_modes=args.complex,
    )
    if args.json:
        print(dumps(summary))
    else:
        print(f"wrote {summary['out']}: {summary['nodes']} nodes; " + "; ".join(summary["what"]))
    return 0
