"""``bshm import FILE_OR_DIR... --out DIR --station NAME``: logger files into the raw store."""

from __future__ import annotations

import argparse

NAME = "import"
GROUP = None
HELP = "bring data from other loggers (CSV, TDMS, MiniSEED, UFF 58, TOA5) into the raw store"
DESCRIPTION = """\
Import logger files (one per record, or a folder of them) into raw HDF5 files.

The format comes from the extension, or --format:
  csv    .csv                    any logger (see below)
  tdms   .tdms                   NI LabVIEW / DAQmx (needs bshm[formats])
  mseed  .mseed .miniseed .msd   seismic / strong-motion digitizers (bshm[formats])
  uff    .uff .unv               UFF dataset 58 time series (bshm[formats])
  toa5   .dat                    Campbell Scientific TOA5 tables
Channel names, units and (where the file says) quantities come from the
file; --quantity/--unit/--channels override them. The file's own times and
sampling rate are kept; gaps in a file, and between files, become gap
records. DEWESoft .dxd/.d7d files are not read directly: see
docs/interop.md.

A CSV file needs a header row, a first column 'time' and one column per
channel. 'time' is ISO 8601 UTC (2026-03-01T12:00:00.010Z) or seconds since
the record start; the start then comes from the file name
(rec_2026-03-01T12-00-00.csv) or --start. The sampling rate is derived from
the time column and checked for regularity. Every file is checked before
anything is written; the time between files becomes gap records.

Importing is idempotent: samples already in the store (same time, same
values) are skipped and counted, so importing a file twice, or files that
partly overlap earlier imports, adds only the new samples. Samples that
contradict stored ones (other values at a stored time, or another time
grid inside stored data) stop the import before anything is written. If
writing fails (disk full, read-only folder), the files written so far are
removed: an import completes or leaves the store as it was.

exit codes: 0 imported (or nothing new), 1 bad input data or a write
failure, 2 bad options.

Describe the channels with --quantity/--unit or a TOML file (--channels):

    [channels.A1]
    quantity = "acceleration"
    unit = "m/s2"
    location = 12.5

example:
    bshm import logger/ --out data --station north-bridge \\
        --quantity A1=acceleration --unit A1=m/s2
    bshm import daq/*.tdms --out data --station north-bridge --group Acc
    bshm import digitizer.mseed --out data --station north-bridge --unit HNZ=m/s2
    bshm import CR1000X_Fast.dat --out data --station north-bridge --utc-offset 1
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="files or folders")
    parser.add_argument(
        "--format",
        choices=("csv", "tdms", "mseed", "uff", "toa5"),
        help="file format (default: from each file's extension)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="raw store folder")
    parser.add_argument("--station", required=True, help="station name (names the files)")
    parser.add_argument("--source", default="import", help="source name (default: import)")
    parser.add_argument(
        "--quantity",
        action="append",
        default=[],
        metavar="NAME=QUANTITY",
        help="quantity of a channel (acceleration, strain, temperature, ...)",
    )
    parser.add_argument(
        "--unit",
        action="append",
        default=[],
        metavar="NAME=UNIT",
        help="unit of a channel, e.g. A1=m/s2",
    )
    parser.add_argument("--channels", metavar="TOML", help="channel descriptions (see above)")
    parser.add_argument("--start", help="record start (ISO 8601 UTC) for relative time columns")
    parser.add_argument("--fs", type=float, help="sampling rate in Hz (default: from the times)")
    parser.add_argument(
        "--utc-offset",
        type=float,
        default=0.0,
        metavar="HOURS",
        help="TOA5: the logger clock's offset from UTC in hours (e.g. 1 for UTC+1; default 0)",
    )
    parser.add_argument("--group", help="TDMS: import only this group (default: all groups)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    """Import and print a summary."""
    import json
    from pathlib import Path

    from bshm.errors import ConfigError
    from bshm.importer import ChannelInfo, import_csv, parse_assignments, read_sidecar
    from bshm.timeutil import parse_time

    channels: dict[str, ChannelInfo] = {}
    if args.channels:
        channels.update(read_sidecar(Path(args.channels)))
    for name, q in parse_assignments(args.quantity, "quantity").items():
        channels.setdefault(name, ChannelInfo(name)).quantity = q
    for name, u in parse_assignments(args.unit, "unit").items():
        channels.setdefault(name, ChannelInfo(name)).unit = u
    try:
        start = parse_time(args.start) if args.start else None
    except ValueError as exc:
        raise ConfigError(f"--start: {exc}") from None
    if args.fs is not None and not 1e-6 <= args.fs <= 1e7:
        raise ConfigError(f"--fs {args.fs:g}: give the sampling rate in Hz (1e-06 .. 1e+07)")
    if not -14 <= args.utc_offset <= 14:
        raise ConfigError(f"--utc-offset {args.utc_offset:g}: hours between -14 and 14")
    summary = import_csv(
        args.inputs,
        args.out,
        station=args.station,
        source=args.source,
        channels=channels,
        start_ns=start,
        fs=args.fs,
        fmt=args.format,
        reader_options={"utc_offset_s": args.utc_offset * 3600.0, "group": args.group},
    )
    if args.json:
        print(json.dumps(summary, indent=2))
    elif summary["samples"] == 0:
        print(
            f"nothing new: all {summary['skipped_samples']} samples of the "
            f"{summary['files']} file(s) are already in {args.out}"
        )
    else:
        skipped = summary["skipped_samples"]
        print(
            f"imported {summary['files']} file(s), {summary['samples']} new samples of "
            f"{len(summary['channels'])} channels at {summary['fs']:g} Hz, "
            f"{summary['start']} .. {summary['end']}, {summary['gaps']} gap(s) -> {args.out}"
            + (f"; {skipped} samples already there were skipped" if skipped else "")
        )
    return 0
