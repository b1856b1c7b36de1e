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
Unreadable or damaged files in a folder are skipped and listed (DAMAGED),
and the others are summarised; files that duplicate or overlap an earlier
file in time are listed as excluded (their samples are not read).

--verify reads every chunk of every file (a folder: its raw files and
results/*.h5) and checks its checksum; it lists each damaged file, dataset,
row range and time span, and exits with 1 if anything is damaged. Files
written before checksums existed are listed as not verifiable.

--json prints {"schema_version", "files": [...], "sources": [{"name", "kind",
"fs", "samples", "start_ns", "end_ns", "gaps", "counters": {...},
"channels": [{"name", "quantity", "unit"}]}], "damaged": [{"file",
"reason"}], "excluded": [...], ...} (times in ns since the epoch, UTC;
end_ns is the last sample's time). With --verify: {"ok", "files": [...],
"damaged": [{"file", "dataset", "rows", "start_ns", "end_ns", "reason"}],
"unverifiable": [...]}.

exit codes: 0 ok, 1 nothing readable (or, with --verify, damage found)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm inspect``."""
    parser.add_argument("path", metavar="PATH", help="raw file or folder, or results file")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    parser.add_argument("--no-records", action="store_true",
                        help="skip counting contiguous runs (faster on big folders)")
    parser.add_argument("--verify", action="store_true",
                        help="read every chunk of every file and check its checksum "
                             "(exit 1 if anything is damaged)")


def run(args: argparse.Namespace) -> int:
    """Print the summary; raise a BshmError (one line) when nothing is readable."""
    import json
    from pathlib import Path

    from bshm.errors import DamagedFileError, StoreError
    from bshm.store.inspect import format_text, summarize

    path = Path(args.path)
    if not path.exists():
        raise StoreError(f"{path}: no such file or folder")
    if args.verify:
        return _verify(path, args.json)
    try:
        summary = summarize(path, records=not args.no_records)
    except DamagedFileError as exc:
        if args.json:  # scripts still get a document naming the damaged file
            print(json.dumps({"files": [], "sources": [], "damaged": [
                {"file": exc.path or str(path), "reason": str(exc)}]}, indent=2))
        raise
    if args.json:
        print(json.dumps(summary, indent=2, default=_default))
    else:
        print(format_text(summary))
    return 0


def _verify(path, as_json: bool) -> int:
    import json

    from bshm.store.verify import format_text, verify

    report = verify(path)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(format_text(report))
    return 0 if report["ok"] else 1


def _default(o):  # numpy scalars from attributes
    try:
        return o.item()
    except AttributeError:
        return str(o)
