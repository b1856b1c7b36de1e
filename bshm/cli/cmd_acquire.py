"""``bshm acquire CONFIG [--duration S]``: record a station into HDF5."""

from __future__ import annotations

import argparse

NAME = "acquire"
GROUP = None
HELP = "record every source of a station into HDF5 until stopped"
DESCRIPTION = """\
Record every source of the station (serial digitizers, Modbus devices)
concurrently into the station's data folder: one HDF5 file per rollover
period holding all sources, each at its own rate. A status line per source
is logged every few seconds (rate, frames ok/bad, gaps, queue depth).

Stop with Ctrl-C (SIGINT) or SIGTERM: the files are flushed and closed.
A lost device is retried with back-off and the outage is recorded as a
gap; so is a device that never comes up.

Exit codes: 0 clean stop with data from every source; 1 a source stored no
sample during the whole run (its device never came up), samples could not
be stored (disk full: see --disk-buffer) or a driver failed; 2 config or
usage error.

Example (simulated bridge):

    bshm new-station demo --simulated
    bshm simulate devices demo/station.toml &
    bshm acquire demo/station.toml --duration 60
    bshm inspect demo/data
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("config", metavar="CONFIG", help="station.toml")
    parser.add_argument(
        "--duration", metavar="S", default=None,
        help="stop after this long (seconds, or e.g. 10min, 1h); default: until stopped",
    )
    parser.add_argument(
        "--status-interval", metavar="S", type=float, default=5.0,
        help="seconds between status log lines (default 5)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the config, record, return 0 on a clean stop."""
    from bshm.config import load_station
    from bshm.errors import ConfigError
    from bshm.timeutil import NS_PER_S, parse_duration

    duration = None
    if args.duration is not None:
        try:
            duration = parse_duration(args.duration) / NS_PER_S
        except ValueError as exc:
            raise ConfigError(f"--duration: {exc}") from None
        if duration <= 0:
            raise ConfigError(f"--duration: must be > 0, got {args.duration!r}")
    station = load_station(args.config)
    from bshm.acquisition.recorder import Recorder

    rec = Recorder(station, duration_s=duration, status_interval_s=args.status_interval)
    code = rec.run()
    for p in rec.paths:
        print(p)
    return code
