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

A full or read-only disk does not stop the recording: one log line says
so, samples are kept in memory (up to --disk-buffer MiB) and written when
space returns (one more line); beyond that, samples are dropped and recorded
as gaps "disk full" and in the counters samples_lost/samples_lost_disk_full.

Exit codes: 0 clean stop with data from every source; 1 a source stored no
sample during the whole run (its device never came up), samples could not
be kept (disk full) or a driver failed; 2 config or usage error.

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
    parser.add_argument(
        "--disk-buffer", metavar="MiB", type=float, default=64.0,
        help="while the disk is full, keep up to this many MiB of samples in memory "
             "and write them when space returns; later samples are dropped and "
             "recorded as gaps 'disk full' (default 64)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the config, record, return 0 on a clean stop."""
    import math

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
    if not (math.isfinite(args.disk_buffer) and 0 <= args.disk_buffer <= 1e6):
        raise ConfigError(f"--disk-buffer: must be 0 .. 1000000 MiB, got {args.disk_buffer!r}")
    if not (math.isfinite(args.status_interval) and args.status_interval > 0):
        raise ConfigError(f"--status-interval: must be > 0 s, got {args.status_interval!r}")
    station = load_station(args.config)
    from bshm.acquisition.recorder import Recorder

    rec = Recorder(station, duration_s=duration, status_interval_s=args.status_interval,
                   disk_buffer_bytes=int(args.disk_buffer * 1024 * 1024))
    code = rec.run()
    for p in rec.paths:
        print(p)
    return code
