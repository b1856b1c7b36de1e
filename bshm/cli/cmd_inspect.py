"""``bshm inspect PATH``: what a raw file or folder (or a results file) holds."""

from __future__ import annotations

import argparse

NAME = "inspect"
GROUP = None
HELP = "what a raw data file/folder or a results file holds (--json for scripts)"
DESCRIPTION = """Summarise HDF5 files written by bshm.

PATH may be a raw file (.h5, or the live .h5.part of a running recorder),
a folder of raw files, or a results file (<station>_results.h5).

For raw data it prints the station, the files, and per source: kind,
sampling rate, channels with units, number of samples, time span (ISO 8601
UTC), gaps (number and total time), contiguous runs and quality counters.
Unreadable files in a folder are skipped and listed.

--json prints {"schema_version", "files": [...], "sources": [{"name", "kind",
"fs", "samples", "start_ns", "end_ns", "gaps", "counters": {...},
"channels": [{"name", "quantity", "unit"}]}], ...} (times in ns since the
epoch, UTC; end_ns is the last sample's time)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm inspect``."""
    parser.add_argument("path", metavar="PATH", help="raw file or folder, or results file")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    parser.add_argument("--no-records", action="store_true",
                        help="skip counting contiguous runs (faster on big folders)")


def run(args: argparse.Namespace) -> int:
    """Print the summary; raise a BshmError (one line) when nothing is readable."""
    import json
    from pathlib import Path

    from bshm.errors import StoreError
    from bshm.store.inspect import format_text, summarize

    path = Path(args.path)
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder")
    summary = summarize(path, records=not args.no_records)
    if args.json:
        print(json.dumps(summary, indent=2, default=_default))
    else:
        print(format_text(summary))
    return 0


def _default(o):  # numpy scalars from attributes
    try:
        return o.item()
    except AttributeError:
        return str(o)
