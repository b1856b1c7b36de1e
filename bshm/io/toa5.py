"""Campbell Scientific TOA5 files (``.dat``: LoggerNet / CR-series tables).

A TOA5 file is CSV text with four header lines, as documented by
Campbell Scientific::

    "TOA5","Station","CR1000X","12345","CR1000X.Std.05","CPU:bridge.CR1X","2034","Fast"
    "TIMESTAMP","RECORD","Acc1","Temp"
    "TS","RN","m/s^2","Deg C"
    "","","Smp","Avg"
    "2026-03-01 12:00:00.01",1,0.0123,11.2

Line 2 names the fields, line 3 gives their units, line 4 how the logger
processed them. ``TIMESTAMP`` is the logger's clock (no time zone: taken as
UTC unless ``--utc-offset`` says otherwise); ``RECORD`` is dropped. Campbell
writes ``NAN`` for a missing value: stored as NaN. Rows repeated by a second
collection are dropped; a jump in time is a gap.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import numpy as np

from bshm.io._common import channel_info, split_rows
from bshm.timeutil import NS_PER_S, parse_time

log = logging.getLogger(__name__)

ORIGIN = "TOA5"
_MISSING = {"nan", "+nan", "-nan", ""}
_INF = {"inf", "+inf", "-inf", "infinity"}


def read_toa5(path: Path, *, utc_offset_s: float = 0.0) -> list:
    """Read one TOA5 file into importer records.

    Parameters
    ----------
    path : Path
    utc_offset_s : float
        The logger clock's offset from UTC (s): ``+3600`` for a clock on
        UTC+1; the offset is subtracted from every timestamp.

    Raises
    ------
    bshm.importer.CsvImportError
        Not TOA5, a short header, a row with the wrong number of fields, a
        value or time that cannot be read, times going back or irregular;
        the message names file and line.
    """
    from bshm.importer import CsvImportError

    try:
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CsvImportError(f"{path}: cannot open ({exc.strerror})") from None
    with fh:
        reader = csv.reader(fh)
        try:
            head = [next(reader) for _ in range(4)]
        except StopIteration:
            raise CsvImportError(f"{path}: fewer than the 4 header lines of a TOA5 file") from None
        except (UnicodeDecodeError, csv.Error):
            raise CsvImportError(f"{path}: not a TOA5 text file") from None
        if not head[0] or head[0][0].strip() != "TOA5":
            raise CsvImportError(
                f"{path}:1: not a TOA5 file (the first field is {head[0][:1]}, not 'TOA5'); "
                "give --format csv for plain CSV"
            )
        fields = [h.strip() for h in head[1]]
        units = [u.strip() for u in head[2]] + [""] * (len(fields) - len(head[2]))
        if not fields or fields[0].upper() != "TIMESTAMP":
            raise CsvImportError(f"{path}:2: the first field must be TIMESTAMP, not {fields[:1]}")
        cols = [i for i, f in enumerate(fields) if i > 0 and f.upper() != "RECORD"]
        names = [fields[i] for i in cols]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes or not names:
            raise CsvImportError(f"{path}:2: field names must be unique and non-empty ({dupes})")
        times: list[int] = []
        rows: list[list[float]] = []
        lines: list[int] = []
        try:
            for line_no, row in enumerate(reader, start=5):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(fields):
                    raise CsvImportError(
                        f"{path}:{line_no}: {len(row)} fields, the header has {len(fields)}"
                    )
                times.append(_time(path, line_no, row[0], utc_offset_s))
                rows.append([_value(path, line_no, fields[i], row[i]) for i in cols])
                lines.append(line_no)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvImportError(f"{path}:{reader.line_num}: unreadable line ({exc})") from None
    if len(rows) < 2:
        raise CsvImportError(f"{path}: needs at least 2 data lines, found {len(rows)}")
    meta = {fields[i]: channel_info(fields[i], units[i]) for i in cols}
    return split_rows(
        path,
        np.asarray(times, np.int64),
        np.asarray(rows, np.float64),
        names,
        meta=meta,
        origin=ORIGIN,
        position=lambda i: f"line {lines[i]}",
    )


def _time(path: Path, line_no: int, text: str, offset_s: float) -> int:
    from bshm.importer import CsvImportError

    t = text.strip()
    try:
        ns = parse_time(t.replace(" ", "T", 1) if "T" not in t else t)
    except ValueError:
        raise CsvImportError(
            f"{path}:{line_no}: TIMESTAMP {text!r} is not a time (expected 2026-03-01 12:00:00.01)"
        ) from None
    return ns - int(round(offset_s * NS_PER_S))


def _value(path: Path, line_no: int, field: str, text: str) -> float:
    from bshm.importer import CsvImportError

    c = text.strip()
    low = c.lower()
    if low in _MISSING:
        return math.nan
    if low in _INF:
        return math.inf if not low.startswith("-") else -math.inf
    try:
        return float(c)
    except ValueError:
        raise CsvImportError(f"{path}:{line_no}: field {field!r}: {c!r} is not a number") from None
